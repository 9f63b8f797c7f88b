//! Passbolt, through `passbolt` (Kamal's `Passbolt` adapter): secrets are
//! `[FOLDER/[SUBFOLDER/...]]NAME`; folders are looked up level by level,
//! then one `passbolt list resources` with a filter per secret gives each
//! resource's `name` and `password`.

use super::missing;
use super::{Adapter, AdapterError, Fetched, Vendor, VendorCall, json, text};
use crate::secrets::shellwords::shellescape;

pub struct Passbolt;

/// Ruby's `String#inspect` of a plain string.
fn inspect(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn quoted(s: &str) -> String {
    inspect(&shellescape(s))
}

#[derive(Clone)]
struct Folder {
    id: String,
    name: String,
    parent: String,
}

fn folders_of(v: &serde_json::Value) -> Vec<Folder> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|f| Folder {
            id: text(&f["id"]),
            name: text(&f["name"]),
            parent: text(&f["folder_parent_id"]),
        })
        .collect()
}

fn path_of(folder: &Folder, all: &[Folder]) -> String {
    let mut path = vec![folder.name.clone()];
    let mut current = folder.clone();
    while !current.parent.is_empty() {
        match all.iter().find(|f| f.id == current.parent) {
            Some(p) if path.len() <= all.len() => {
                path.insert(0, p.name.clone());
                current = p.clone();
            }
            _ => break,
        }
    }
    path.join("/")
}

fn list(
    vendor: &mut dyn Vendor,
    what: &str,
    filter: Option<String>,
    extra: &[String],
) -> Option<serde_json::Value> {
    let mut args = vec!["list".to_string(), what.to_string()];
    if let Some(f) = filter {
        args.extend(["--filter".to_string(), f]);
    }
    args.extend(extra.iter().cloned());
    args.push("--json".into());
    let call = VendorCall::new("passbolt", args);
    let out = vendor.run(&call);
    if !out.success {
        return None;
    }
    json(&call, &out.stdout).ok()
}

impl Adapter for Passbolt {
    fn requires_account(&self) -> bool {
        false
    }

    fn installed(&self) -> Option<(VendorCall, &'static str)> {
        Some((
            VendorCall::new("passbolt", ["--version"]).quiet(),
            "Passbolt CLI",
        ))
    }

    fn login(
        &self,
        vendor: &mut dyn Vendor,
        _: Option<&str>,
    ) -> Result<Option<String>, AdapterError> {
        if !vendor.run(&VendorCall::new("passbolt", ["verify"])).success {
            return Err(AdapterError::new("Failed to login to Passbolt"));
        }
        Ok(None)
    }

    fn fetch(
        &self,
        vendor: &mut dyn Vendor,
        secrets: &[String],
        _: Option<&str>,
        _: Option<&str>,
        _: Option<&str>,
    ) -> Result<Fetched, AdapterError> {
        if secrets.is_empty() {
            return Err(AdapterError::new("No secrets given to fetch"));
        }
        let folders = get_folders(vendor, secrets)?;
        let mut conditions = Vec::new();
        for secret in secrets {
            let parts: Vec<&str> = secret.split('/').collect();
            let name = parts[parts.len() - 1];
            if parts.len() > 1 {
                let mut current = None;
                for depth in 1..parts.len() {
                    let prefix = parts[..depth].join("/");
                    if let Some(f) = folders.iter().find(|f| path_of(f, &folders) == prefix) {
                        current = Some(f.clone());
                    }
                }
                if let Some(f) = current {
                    conditions.push(format!(
                        "(Name == {} && FolderParentID == {})",
                        quoted(name),
                        quoted(&f.id)
                    ));
                }
            } else {
                conditions.push(format!("Name == {}", quoted(name)));
            }
        }
        let filter = (!conditions.is_empty()).then(|| conditions.join(" || "));
        let extra: Vec<String> = folders
            .iter()
            .flat_map(|f| ["--folder".to_string(), f.id.clone()])
            .collect();
        let items = list(vendor, "resources", filter, &extra).ok_or_else(|| {
            AdapterError(format!(
                "Could not read {} from Passbolt",
                secrets.join(", ")
            ))
        })?;
        let mut results = Fetched::default();
        for item in items.as_array().into_iter().flatten() {
            results.insert(text(&item["name"]), text(&item["password"]));
        }
        let missing = missing(
            secrets.iter().map(|s| s.rsplit('/').next().unwrap_or(s)),
            &results,
        );
        if !missing.is_empty() {
            return Err(AdapterError(format!(
                "Could not find the following secrets in Passbolt: {}",
                missing.join(", ")
            )));
        }
        Ok(results)
    }
}

fn get_folders(vendor: &mut dyn Vendor, secrets: &[String]) -> Result<Vec<Folder>, AdapterError> {
    let mut paths: Vec<Vec<&str>> = Vec::new();
    for s in secrets.iter().filter(|s| s.contains('/')) {
        let parts: Vec<&str> = s.split('/').collect();
        let path = parts[..parts.len() - 1].to_vec();
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let mut parents: Vec<&str> = Vec::new();
    for p in &paths {
        if !parents.contains(&p[0]) {
            parents.push(p[0]);
        }
    }
    let filter = parents
        .iter()
        .map(|n| format!("Name == {}", quoted(n)))
        .collect::<Vec<_>>()
        .join(" || ");
    let top = list(vendor, "folders", Some(filter), &[])
        .ok_or_else(|| AdapterError::new("Could not read folders from Passbolt"))?;
    let top = folders_of(&top);
    let mut all = top.clone();
    for path in paths.iter().filter(|p| p.len() > 1) {
        let Some(mut current) = top.iter().find(|f| f.name == path[0]).cloned() else {
            continue;
        };
        for name in &path[1..] {
            let filter = format!(
                "Name == {} && FolderParentID == {}",
                quoted(name),
                quoted(&current.id)
            );
            let Some(found) = list(vendor, "folders", Some(filter), &[]) else {
                continue;
            };
            let nested = folders_of(&found);
            let Some(first) = nested.first().cloned() else {
                break;
            };
            all.extend(nested);
            current = first;
        }
    }
    let found: Vec<String> = all.iter().map(|f| path_of(f, &all)).collect();
    let missing: Vec<String> = paths
        .iter()
        .map(|p| p.join("/"))
        .filter(|p| !found.contains(p))
        .collect();
    if !missing.is_empty() {
        return Err(AdapterError(format!(
            "Could not find the following folders in Passbolt: {}",
            missing.join(", ")
        )));
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::super::{fetch, recording::Scripted};

    #[test]
    fn finds_folders_level_by_level_then_the_resources() {
        let mut v = Scripted::new(&[
            ("passbolt --version", true, "passbolt version 0.3.2"),
            ("passbolt verify", true, "Login Successful"),
            (
                r#"passbolt list folders --filter 'Name == "prod"' --json"#,
                true,
                r#"[{"id":"f1","folder_parent_id":"","name":"prod"}]"#,
            ),
            (
                r#"passbolt list folders --filter 'Name == "db" && FolderParentID == "f1"' --json"#,
                true,
                r#"[{"id":"f2","folder_parent_id":"f1","name":"db"}]"#,
            ),
            (
                r#"passbolt list resources --filter '(Name == "PW" && FolderParentID == "f2") || Name == "TOP"' --folder f1 --folder f2 --json"#,
                true,
                r#"[{"id":"r1","name":"PW","password":"pw1"},{"id":"r2","name":"TOP","password":"t"}]"#,
            ),
        ]);
        let got = fetch(
            &mut v,
            "passbolt",
            &["prod/db/PW".into(), "TOP".into()],
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            got.0,
            vec![("PW".into(), "pw1".into()), ("TOP".into(), "t".into())]
        );
        let e = fetch(&mut v, "passbolt", &["staging/X".into()], None, None).unwrap_err();
        assert!(
            e.0.contains("Could not read folders") || e.0.contains("staging"),
            "{e}"
        );
    }
}

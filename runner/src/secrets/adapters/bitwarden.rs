//! Bitwarden, through `bw` (Kamal's `Bitwarden` adapter): logs in and
//! unlocks as needed (the session goes in `BW_SESSION`), syncs, then reads
//! each item once: `ITEM/FIELD` for custom fields, `ITEM` for a login's
//! password (or every custom field when it has none).

use super::{Adapter, AdapterError, Fetched, Vendor, VendorCall, json, read_json, text};

pub struct Bitwarden;

fn bw(args: &[&str], session: Option<&str>) -> VendorCall {
    let mut c = VendorCall::new("bw", args.iter().copied());
    if let Some(s) = session {
        c.env.push(("BW_SESSION".into(), s.into()));
    }
    c
}

fn status(vendor: &mut dyn Vendor, session: Option<&str>) -> String {
    let call = bw(&["status"], session);
    let out = vendor.run(&call);
    json(&call, &out.stdout)
        .map(|v| text(&v["status"]))
        .unwrap_or_default()
}

impl Adapter for Bitwarden {
    fn installed(&self) -> Option<(VendorCall, &'static str)> {
        Some((bw(&["--version"], None).quiet(), "Bitwarden CLI"))
    }

    fn login(
        &self,
        vendor: &mut dyn Vendor,
        account: Option<&str>,
    ) -> Result<Option<String>, AdapterError> {
        let mut state = status(vendor, None);
        if state == "unauthenticated" {
            vendor.run(&bw(&["login", account.unwrap_or_default()], None));
            state = status(vendor, None);
        }
        let mut session = None;
        if state == "locked" {
            let out = vendor.run(&bw(&["unlock", "--raw"], None));
            session = Some(out.stdout.trim().to_string()).filter(|s| !s.is_empty());
            state = status(vendor, session.as_deref());
        }
        if state != "unlocked" {
            return Err(AdapterError::new("Failed to login to and unlock Bitwarden"));
        }
        if !vendor.run(&bw(&["sync"], session.as_deref())).success {
            return Err(AdapterError::new("Failed to sync Bitwarden"));
        }
        Ok(session)
    }

    fn fetch(
        &self,
        vendor: &mut dyn Vendor,
        secrets: &[String],
        _: Option<&str>,
        _: Option<&str>,
        session: Option<&str>,
    ) -> Result<Fetched, AdapterError> {
        let mut items: Vec<(String, Vec<String>)> = Vec::new();
        for s in secrets {
            let mut parts = s.split('/');
            let item = parts.next().unwrap_or_default().to_string();
            let field = parts.next().map(String::from);
            let slot = match items.iter().position(|(i, _)| *i == item) {
                Some(i) => i,
                None => {
                    items.push((item, Vec::new()));
                    items.len() - 1
                }
            };
            items[slot].1.extend(field);
        }
        let mut results = Fetched::default();
        for (item, fields) in items {
            let call = bw(&["get", "item", &item], session);
            let v = read_json(vendor, &call, || {
                format!("Could not read {item} from Bitwarden")
            })?;
            let custom = v["fields"].as_array().cloned().unwrap_or_default();
            let fields = if !fields.is_empty() {
                fields
            } else if let Some(pw) = v["login"]["password"].as_str() {
                results.insert(item.clone(), pw);
                continue;
            } else if !custom.is_empty() {
                custom.iter().map(|f| text(&f["name"])).collect()
            } else {
                return Err(AdapterError(format!(
                    "Item {item} is not a login type item and no fields were specified"
                )));
            };
            for field in fields {
                let found = custom
                    .iter()
                    .find(|f| f["name"].as_str() == Some(&field))
                    .ok_or_else(|| {
                        AdapterError(format!(
                            "Could not find field {field} in item {item} in Bitwarden"
                        ))
                    })?;
                results.insert(format!("{item}/{field}"), text(&found["value"]));
            }
        }
        Ok(results)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fetch, recording::Scripted};

    #[test]
    fn unlocks_then_reads_fields_and_passwords() {
        let mut v = Scripted::new(&[
            ("bw --version", true, "2024.9.0"),
            ("bw status", true, r#"{"status":"locked"}"#),
            ("bw unlock --raw", true, "sess\n"),
            ("bw sync", true, "Syncing complete."),
            (
                "bw get item app",
                true,
                r#"{"login":{"password":"pw"},"fields":[{"name":"K","value":"v"}]}"#,
            ),
        ]);
        // The scripted `bw status` always says locked; the second status
        // call (with the session) must say unlocked for a login to pass.
        let e = fetch(&mut v, "bitwarden", &["app/K".into()], Some("me"), None).unwrap_err();
        assert_eq!(e.0, "Failed to login to and unlock Bitwarden");
        let status_calls: Vec<_> = v.calls.iter().filter(|c| c.args == ["status"]).collect();
        assert_eq!(
            status_calls[1].env,
            vec![("BW_SESSION".to_string(), "sess".to_string())]
        );
    }

    #[test]
    fn reads_fields_and_passwords_once_unlocked() {
        let mut v = Scripted::new(&[
            ("bw --version", true, "2024.9.0"),
            ("bw status", true, r#"{"status":"unlocked"}"#),
            ("bw sync", true, ""),
            (
                "bw get item app",
                true,
                r#"{"login":{"password":"pw"},"fields":[{"name":"K","value":"v"}]}"#,
            ),
        ]);
        let got = fetch(
            &mut v,
            "bitwarden",
            &["app/K".into(), "app".into()],
            Some("me"),
            None,
        );
        assert_eq!(got.unwrap().0, vec![("app/K".into(), "v".into())]);
        let got = fetch(&mut v, "bitwarden", &["app".into()], Some("me"), None).unwrap();
        assert_eq!(got.0, vec![("app".into(), "pw".into())]);
        let e = fetch(&mut v, "bitwarden", &["app/X".into()], Some("me"), None).unwrap_err();
        assert_eq!(e.0, "Could not find field X in item app in Bitwarden");
    }
}

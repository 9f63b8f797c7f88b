//! 1Password, through `op` (Kamal's `OnePassword` adapter): secrets are
//! `VAULT/ITEM[/FIELD[/FIELD]]` (field `password` when none is named),
//! grouped so each item is read once; with no names, every field of the
//! `--from VAULT/ITEM` item. A result's key is the field's reference
//! without `op://` and a trailing `/password`.

use std::collections::BTreeMap;

use super::{Adapter, AdapterError, Fetched, Vendor, VendorCall, read_json, text};

pub struct OnePassword;

impl Adapter for OnePassword {
    fn installed(&self) -> Option<(VendorCall, &'static str)> {
        Some((
            VendorCall::new("op", ["--version"]).quiet(),
            "1Password CLI",
        ))
    }

    fn login(
        &self,
        vendor: &mut dyn Vendor,
        account: Option<&str>,
    ) -> Result<Option<String>, AdapterError> {
        let account = account.unwrap_or_default();
        let get = VendorCall::new("op", ["account", "get", "--account", account]).quiet();
        if vendor.run(&get).success {
            return Ok(None);
        }
        let signin = VendorCall::new("op", ["signin", "--account", account, "--force", "--raw"]);
        let out = vendor.run(&signin);
        if !out.success {
            return Err(AdapterError::new(
                "Failed to login to 1Password (`op signin` failed; check the account name)",
            ));
        }
        let token = out.stdout.trim().to_string();
        Ok((!token.is_empty()).then_some(token))
    }

    fn fetch(
        &self,
        vendor: &mut dyn Vendor,
        secrets: &[String],
        from: Option<&str>,
        account: Option<&str>,
        session: Option<&str>,
    ) -> Result<Fetched, AdapterError> {
        let mut results = Fetched::default();
        if secrets.is_empty() {
            let from = from.ok_or_else(|| {
                AdapterError::new("name the secrets to fetch, or give `--from VAULT/ITEM` to fetch every field of an item")
            })?;
            let from = from.strip_prefix("op://").unwrap_or(from);
            let (vault, item) = from.split_once('/').unwrap_or((from, ""));
            let item = item.split('/').next().unwrap_or_default();
            let v = item_get(vendor, vault, item, None, account, session)?;
            for field in v["fields"].as_array().into_iter().flatten() {
                add(&mut results, field);
            }
            return Ok(results);
        }
        for (vault, items) in vaults_items_fields(secrets) {
            for (item, fields) in items {
                let v = item_get(vendor, &vault, &item, Some(&fields), account, session)?;
                match v {
                    serde_json::Value::Array(list) => {
                        for field in &list {
                            add(&mut results, field);
                        }
                    }
                    one => add(&mut results, &one),
                }
            }
        }
        Ok(results)
    }
}

fn add(results: &mut Fetched, field: &serde_json::Value) {
    let reference = text(&field["reference"]);
    let key = reference.strip_prefix("op://").unwrap_or(&reference);
    let key = key.strip_suffix("/password").unwrap_or(key);
    results.insert(key, text(&field["value"]));
}

/// vault -> item -> fields (`a.b` for a field in a section), in first-seen
/// order within each map's sort.
fn vaults_items_fields(secrets: &[String]) -> BTreeMap<String, Vec<(String, Vec<String>)>> {
    let mut vaults: BTreeMap<String, Vec<(String, Vec<String>)>> = BTreeMap::new();
    for secret in secrets {
        let s = secret.strip_prefix("op://").unwrap_or(secret);
        let mut parts = s.split('/');
        let vault = parts.next().unwrap_or_default().to_string();
        let item = parts.next().unwrap_or_default().to_string();
        let mut fields: Vec<&str> = parts.collect();
        if fields.is_empty() {
            fields.push("password");
        }
        let items = vaults.entry(vault).or_default();
        let field = fields.join(".");
        match items.iter_mut().find(|(i, _)| *i == item) {
            Some((_, fs)) => fs.push(field),
            None => items.push((item, vec![field])),
        }
    }
    vaults
}

fn item_get(
    vendor: &mut dyn Vendor,
    vault: &str,
    item: &str,
    fields: Option<&[String]>,
    account: Option<&str>,
    session: Option<&str>,
) -> Result<serde_json::Value, AdapterError> {
    let mut args = vec![
        "item".to_string(),
        "get".into(),
        item.into(),
        "--vault".into(),
        vault.into(),
        "--format".into(),
        "json".into(),
    ];
    if let Some(a) = account {
        args.extend(["--account".into(), a.into()]);
    }
    if let Some(s) = session {
        args.extend(["--session".into(), s.into()]);
    }
    if let Some(fields) = fields {
        let labels: Vec<String> = fields.iter().map(|f| format!("label={f}")).collect();
        args.extend(["--fields".into(), labels.join(",")]);
    }
    let call = VendorCall::new("op", args);
    read_json(vendor, &call, || {
        format!(
            "Could not read from {item} in the {vault} 1Password vault (see op's message above)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::super::{fetch, recording::Scripted};

    #[test]
    fn reads_each_item_once_and_keys_by_reference() {
        let mut v = Scripted::new(&[
            ("op --version", true, "2.30.0\n"),
            ("op account get --account acct", false, ""),
            ("op signin --account acct --force --raw", true, "tok\n"),
            (
                "op item get Item --vault Vault --format json --account acct --session tok --fields label=A,label=B",
                true,
                r#"[{"id":"a","label":"A","value":"one","reference":"op://Vault/Item/A"},
                    {"id":"b","label":"B","value":"two","reference":"op://Vault/Item/B"}]"#,
            ),
            (
                "op item get Other --vault Vault --format json --account acct --session tok --fields label=password",
                true,
                r#"{"id":"p","label":"password","value":"pw","reference":"op://Vault/Other/password"}"#,
            ),
        ]);
        let names: Vec<String> = ["Item/A", "Item/B", "Other"].map(String::from).into();
        let got = fetch(&mut v, "1password", &names, Some("acct"), Some("Vault")).unwrap();
        assert_eq!(
            got.0,
            vec![
                ("Vault/Item/A".to_string(), "one".to_string()),
                ("Vault/Item/B".into(), "two".into()),
                ("Vault/Other".into(), "pw".into()),
            ]
        );
        let e = fetch(&mut v, "1password", &names, None, None).unwrap_err();
        assert!(e.0.contains("--account"), "{e}");
    }

    #[test]
    fn missing_cli_and_failed_reads_say_so() {
        let mut v = Scripted::new(&[]);
        let e = fetch(
            &mut v,
            "1password",
            &["A".into()],
            Some("acct"),
            Some("V/I"),
        )
        .unwrap_err();
        assert!(e.0.contains("1Password CLI is not installed"), "{e}");
        let mut v = Scripted::new(&[
            ("op --version", true, ""),
            ("op account get --account acct", true, ""),
        ]);
        let e = fetch(
            &mut v,
            "1password",
            &["A".into()],
            Some("acct"),
            Some("V/I"),
        )
        .unwrap_err();
        assert!(
            e.0.contains("Could not read from I in the V 1Password vault"),
            "{e}"
        );
    }
}

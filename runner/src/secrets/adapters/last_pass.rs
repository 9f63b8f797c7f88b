//! LastPass, through `lpass` (Kamal's `LastPass` adapter): one
//! `lpass show NAMES... --json`, each item's `fullname` to its `password`.

use super::missing;
use super::{Adapter, AdapterError, Fetched, Vendor, VendorCall, read_json, text};

pub struct LastPass;

impl Adapter for LastPass {
    fn installed(&self) -> Option<(VendorCall, &'static str)> {
        Some((
            VendorCall::new("lpass", ["--version"]).quiet(),
            "LastPass CLI",
        ))
    }

    fn login(
        &self,
        vendor: &mut dyn Vendor,
        account: Option<&str>,
    ) -> Result<Option<String>, AdapterError> {
        let account = account.unwrap_or_default();
        let status = vendor.run(&VendorCall::new("lpass", ["status", "--color", "never"]));
        if status.stdout.trim() != format!("Logged in as {account}.") {
            let login = vendor.run(&VendorCall::new("lpass", ["login", account]));
            if !login.success {
                return Err(AdapterError::new("Failed to login to LastPass"));
            }
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
        let mut args = vec!["show".to_string()];
        args.extend(secrets.iter().cloned());
        args.push("--json".into());
        let call = VendorCall::new("lpass", args);
        let v = read_json(vendor, &call, || {
            format!("Could not read {} from LastPass", secrets.join(", "))
        })?;
        let mut results = Fetched::default();
        for item in v.as_array().into_iter().flatten() {
            results.insert(text(&item["fullname"]), text(&item["password"]));
        }
        let missing = missing(secrets.iter().map(String::as_str), &results);
        if !missing.is_empty() {
            return Err(AdapterError(format!(
                "Could not find {} in LastPass",
                missing.join(", ")
            )));
        }
        Ok(results)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fetch, recording::Scripted};

    #[test]
    fn logs_in_when_needed_and_names_what_is_missing() {
        let mut v = Scripted::new(&[
            ("lpass --version", true, "LastPass CLI v1.6.1"),
            ("lpass status --color never", true, "Not logged in.\n"),
            ("lpass login me@example.com", true, ""),
            (
                "lpass show Shared/A B --json",
                true,
                r#"[{"id":"1","name":"A","fullname":"Shared/A","password":"pa"}]"#,
            ),
            (
                "lpass show Shared/A --json",
                true,
                r#"[{"id":"1","name":"A","fullname":"Shared/A","password":"pa"}]"#,
            ),
        ]);
        let names = ["Shared/A".to_string(), "B".to_string()];
        let e = fetch(&mut v, "lastpass", &names, Some("me@example.com"), None).unwrap_err();
        assert_eq!(e.0, "Could not find B in LastPass");
        assert!(
            v.calls
                .iter()
                .any(|c| c.args == ["login", "me@example.com"])
        );
        let got = fetch(
            &mut v,
            "lastpass",
            &names[..1],
            Some("me@example.com"),
            None,
        );
        assert_eq!(got.unwrap().0, vec![("Shared/A".into(), "pa".into())]);
    }
}

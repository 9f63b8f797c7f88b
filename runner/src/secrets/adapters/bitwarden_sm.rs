//! Bitwarden Secrets Manager, through `bws` (Kamal's
//! `BitwardenSecretsManager` adapter): secret ids, or `all`, or
//! `PROJECT/all`; each secret's `key` to its `value`.

use super::{Adapter, AdapterError, Fetched, Vendor, VendorCall, read_json, text};

pub struct BitwardenSm;

impl Adapter for BitwardenSm {
    fn requires_account(&self) -> bool {
        false
    }

    fn installed(&self) -> Option<(VendorCall, &'static str)> {
        Some((
            VendorCall::new("bws", ["--version"]).quiet(),
            "Bitwarden Secrets Manager CLI",
        ))
    }

    fn login(
        &self,
        vendor: &mut dyn Vendor,
        _: Option<&str>,
    ) -> Result<Option<String>, AdapterError> {
        if !vendor
            .run(&VendorCall::new("bws", ["run", "echo OK"]))
            .success
        {
            return Err(AdapterError::new(
                "Could not authenticate to Bitwarden Secrets Manager. Did you set a valid access token?",
            ));
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
            return Err(AdapterError::new(
                "You must specify what to retrieve from Bitwarden Secrets Manager",
            ));
        }
        let mut results = Fetched::default();
        let list = match secrets {
            [one] if one == "all" => Some(vec!["secret".to_string(), "list".into()]),
            [one] if one.ends_with("/all") => Some(vec![
                "secret".to_string(),
                "list".into(),
                one.split("/all").next().unwrap_or_default().to_string(),
            ]),
            _ => None,
        };
        if let Some(args) = list {
            let call = VendorCall::new("bws", args);
            let v = read_json(
                vendor,
                &call,
                || "Could not read secrets from Bitwarden Secrets Manager",
            )?;
            for item in v.as_array().into_iter().flatten() {
                results.insert(text(&item["key"]), text(&item["value"]));
            }
            return Ok(results);
        }
        for id in secrets {
            let call = VendorCall::new("bws", ["secret", "get", id]);
            let item = read_json(vendor, &call, || {
                format!("Could not read {id} from Bitwarden Secrets Manager")
            })?;
            results.insert(text(&item["key"]), text(&item["value"]));
        }
        Ok(results)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fetch, recording::Scripted};

    #[test]
    fn ids_one_by_one_or_a_whole_project() {
        let mut v = Scripted::new(&[
            ("bws --version", true, "bws 1.0.0"),
            ("bws run 'echo OK'", true, "OK"),
            (
                "bws secret get id-1",
                true,
                r#"{"id":"id-1","key":"A","value":"1"}"#,
            ),
            (
                "bws secret list proj",
                true,
                r#"[{"key":"B","value":"2"},{"key":"C","value":"3"}]"#,
            ),
        ]);
        let got = fetch(&mut v, "bitwarden-sm", &["id-1".into()], None, None).unwrap();
        assert_eq!(got.0, vec![("A".into(), "1".into())]);
        let got = fetch(&mut v, "bitwarden-sm", &["all".into()], None, Some("proj")).unwrap();
        assert_eq!(got.0.len(), 2);
    }
}

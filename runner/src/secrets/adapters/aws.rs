//! AWS Secrets Manager, through `aws` (Kamal's `AwsSecretsManager`
//! adapter): one `batch-get-secret-value`; a JSON secret gives
//! `NAME/KEY` for each key, any other secret `NAME`; `--account` is the
//! AWS profile.

use super::{Adapter, AdapterError, Fetched, Vendor, VendorCall, read_json, text};

pub struct Aws;

impl Adapter for Aws {
    fn requires_account(&self) -> bool {
        false
    }

    fn installed(&self) -> Option<(VendorCall, &'static str)> {
        Some((VendorCall::new("aws", ["--version"]).quiet(), "AWS CLI"))
    }

    fn login(&self, _: &mut dyn Vendor, _: Option<&str>) -> Result<Option<String>, AdapterError> {
        Ok(None)
    }

    fn fetch(
        &self,
        vendor: &mut dyn Vendor,
        secrets: &[String],
        _: Option<&str>,
        account: Option<&str>,
        _: Option<&str>,
    ) -> Result<Fetched, AdapterError> {
        let mut args: Vec<String> = [
            "secretsmanager",
            "batch-get-secret-value",
            "--secret-id-list",
        ]
        .map(String::from)
        .into();
        args.extend(secrets.iter().cloned());
        if let Some(profile) = account {
            args.extend(["--profile".into(), profile.into()]);
        }
        let call = VendorCall::new("aws", args);
        let v = read_json(vendor, &call, || {
            format!(
                "Could not read {} from AWS Secrets Manager",
                secrets.join(", ")
            )
        })?;
        if let Some(errors) = v["Errors"].as_array().filter(|e| !e.is_empty()) {
            let list: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", text(&e["SecretId"]), text(&e["Message"])))
                .collect();
            return Err(AdapterError(list.join(" ")));
        }
        let mut results = Fetched::default();
        for secret in v["SecretValues"].as_array().into_iter().flatten() {
            let name = text(&secret["Name"]);
            let string = text(&secret["SecretString"]);
            match serde_json::from_str::<serde_json::Value>(&string) {
                Ok(serde_json::Value::Object(map)) => {
                    for (k, v) in map {
                        results.insert(format!("{name}/{k}"), text(&v));
                    }
                }
                _ => results.insert(name, string),
            }
        }
        Ok(results)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fetch, recording::Scripted};

    #[test]
    fn json_secrets_give_a_key_each_and_errors_are_named() {
        let mut v = Scripted::new(&[
            ("aws --version", true, "aws-cli/2.15.0"),
            (
                "aws secretsmanager batch-get-secret-value --secret-id-list app/db plain --profile prod",
                true,
                r#"{"SecretValues":[{"Name":"app/db","SecretString":"{\"user\":\"u\",\"port\":5432}"},
                                   {"Name":"plain","SecretString":"just text"}],"Errors":[]}"#,
            ),
            (
                "aws secretsmanager batch-get-secret-value --secret-id-list gone",
                true,
                r#"{"SecretValues":[],"Errors":[{"SecretId":"gone","ErrorCode":"ResourceNotFoundException","Message":"Secrets Manager can't find the specified secret."}]}"#,
            ),
        ]);
        let got = fetch(
            &mut v,
            "aws_secrets_manager",
            &["app/db".into(), "plain".into()],
            Some("prod"),
            None,
        )
        .unwrap();
        assert_eq!(
            got.0,
            vec![
                ("app/db/port".into(), "5432".into()),
                ("app/db/user".into(), "u".into()),
                ("plain".into(), "just text".into())
            ]
        );
        let e = fetch(&mut v, "aws_secrets_manager", &["gone".into()], None, None).unwrap_err();
        assert_eq!(
            e.0,
            "gone: Secrets Manager can't find the specified secret."
        );
    }
}

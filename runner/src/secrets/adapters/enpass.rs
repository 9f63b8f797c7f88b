//! Enpass, through `enpass-cli` (Kamal's `Enpass` adapter): offline, the
//! `--account` is the vault's path; secrets are `TITLE` or `TITLE/LABEL`;
//! `enpass-cli` prints its results on stderr, one line per field.

use std::sync::OnceLock;

use regex::Regex;

use super::{Adapter, AdapterError, Fetched, Vendor, VendorCall};

pub struct Enpass;

impl Adapter for Enpass {
    fn installed(&self) -> Option<(VendorCall, &'static str)> {
        Some((
            VendorCall::new("enpass-cli", ["version"]).quiet(),
            "Enpass CLI",
        ))
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
        let mut titles: Vec<String> = Vec::new();
        for s in secrets {
            let title = match s.rsplit_once('/') {
                Some((key, _)) if !key.is_empty() => key,
                Some((_, value)) => value,
                None => s,
            };
            if !titles.iter().any(|t| t == title) {
                titles.push(title.to_string());
            }
        }
        let mut args = vec![
            "-vault".to_string(),
            account.unwrap_or_default().into(),
            "show".into(),
        ];
        args.extend(titles);
        let mut call = VendorCall::new("enpass-cli", args);
        call.capture_stderr = true;
        let out = vendor.run(&call);
        if !out.success {
            return Err(AdapterError(format!(
                "Could not read {} from Enpass",
                secrets.join(", ")
            )));
        }
        parse(&out.stderr, secrets)
    }
}

fn patterns() -> &'static [Regex; 3] {
    static P: OnceLock<[Regex; 3]> = OnceLock::new();
    P.get_or_init(|| {
        [
            Regex::new(r"title:\s*(\w+)").expect("compiles"),
            Regex::new(r"label:\s*(.*?)\s{2}").expect("compiles"),
            Regex::new(r#"password:\s*([^"]+)"#).expect("compiles"),
        ]
    })
}

/// Kamal's `parse_result_and_take_secrets`.
fn parse(stderr: &str, secrets: &[String]) -> Result<Fetched, AdapterError> {
    let [title_re, label_re, password_re] = patterns();
    let mut results = Fetched::default();
    for line in stderr.lines() {
        let group = |re: &Regex| re.captures(line).and_then(|c| c.get(1)).map(|m| m.as_str());
        let (Some(title), Some(password)) = (group(title_re), group(password_re)) else {
            continue;
        };
        if password.is_empty() {
            continue;
        }
        let key = match group(label_re) {
            Some(label) if !label.is_empty() => format!("{title}/{label}"),
            _ => title.to_string(),
        };
        if secrets.iter().any(|s| s == title || *s == key) {
            if results.0.iter().any(|(k, _)| *k == key) {
                return Err(AdapterError(format!("{key} is present more than once")));
            }
            results.insert(key, password);
        }
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::super::{fetch, recording::Scripted};

    #[test]
    fn reads_titles_and_labels_from_stderr() {
        let out = concat!(
            "time=\"2024-01-01T00:00:00Z\" level=info msg=\"> title: FooBar  login:   cat.: computer  label: SECRET_1  password: my-password-1\"\n",
            "time=\"2024-01-01T00:00:00Z\" level=info msg=\"> title: Other  login:   cat.: computer  label:   password: other-pw\"\n",
        );
        let mut v = Scripted::new(&[
            ("enpass-cli version", true, "v1.6.0"),
            (
                "enpass-cli -vault /vaults/primary show FooBar Other",
                true,
                out,
            ),
        ]);
        let got = fetch(
            &mut v,
            "enpass",
            &["FooBar/SECRET_1".into(), "Other".into()],
            Some("/vaults/primary"),
            None,
        )
        .unwrap();
        assert_eq!(
            got.0,
            vec![
                ("FooBar/SECRET_1".into(), "my-password-1".into()),
                ("Other".into(), "other-pw".into())
            ]
        );
    }
}

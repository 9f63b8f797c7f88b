//! Doppler, through `doppler` (Kamal's `Doppler` adapter): `--from
//! PROJECT/CONFIG` (not needed with a service token in `DOPPLER_TOKEN`),
//! one `doppler secrets get NAMES... --json`, each secret's `computed` value.

use super::{Adapter, AdapterError, Fetched, Vendor, VendorCall, read_json, text};

pub struct Doppler;

impl Adapter for Doppler {
    fn requires_account(&self) -> bool {
        false
    }

    fn installed(&self) -> Option<(VendorCall, &'static str)> {
        Some((
            VendorCall::new("doppler", ["--version"]).quiet(),
            "Doppler CLI",
        ))
    }

    fn login(
        &self,
        vendor: &mut dyn Vendor,
        _: Option<&str>,
    ) -> Result<Option<String>, AdapterError> {
        if !vendor
            .run(&VendorCall::new("doppler", ["me", "--json"]).quiet())
            .success
            && !vendor
                .run(&VendorCall::new("doppler", ["login", "-y"]))
                .success
        {
            return Err(AdapterError::new("Failed to login to Doppler"));
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
        let mut args = vec!["secrets".to_string(), "get".into()];
        args.extend(
            secrets
                .iter()
                .map(|s| s.rsplit('/').next().unwrap_or(s).to_string()),
        );
        args.push("--json".into());
        let service_token = vendor
            .env("DOPPLER_TOKEN")
            .is_some_and(|t| t.starts_with("dp.st"));
        if !service_token {
            let first = secrets.first().map(String::as_str).unwrap_or_default();
            let mut parts = first.split('/');
            match (parts.next(), parts.next()) {
                (Some(project), Some(config)) if !project.is_empty() => {
                    args.extend(["-p".into(), project.into(), "-c".into(), config.into()]);
                }
                _ => {
                    return Err(AdapterError::new(
                        "Missing project or config from '--from=project/config' option",
                    ));
                }
            }
        }
        let call = VendorCall::new("doppler", args);
        let v = read_json(vendor, &call, || {
            format!("Could not read {} from Doppler", secrets.join(", "))
        })?;
        let mut results = Fetched::default();
        if let Some(map) = v.as_object() {
            for (k, v) in map {
                results.insert(k.clone(), text(&v["computed"]));
            }
        }
        Ok(results)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fetch, recording::Scripted};

    #[test]
    fn takes_project_and_config_from_from() {
        let mut v = Scripted::new(&[
            ("doppler --version", true, "v3.69.0"),
            ("doppler me --json", true, "{}"),
            (
                "doppler secrets get A B --json -p app -c prd",
                true,
                r#"{"A":{"computed":"1","raw":"1"},"B":{"computed":"two","raw":"${X}"}}"#,
            ),
        ]);
        let names = ["A".to_string(), "B".to_string()];
        let got = fetch(&mut v, "doppler", &names, None, Some("app/prd")).unwrap();
        assert_eq!(
            got.0,
            vec![("A".into(), "1".into()), ("B".into(), "two".into())]
        );
        let e = fetch(&mut v, "doppler", &names, None, None).unwrap_err();
        assert!(e.0.contains("--from=project/config"), "{e}");
    }
}

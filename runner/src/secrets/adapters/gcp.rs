//! Google Secret Manager, through `gcloud` (Kamal's `GcpSecretManager`
//! adapter): secrets are `[PROJECT/]NAME[/VERSION]` (project `default`,
//! version `latest`); `--account USER[|SERVICE_ACCOUNT,...]` picks the user
//! (`default` for gcloud's) and an impersonation chain.

use base64::Engine as _;

use super::{Adapter, AdapterError, Fetched, Vendor, VendorCall, json, read_json, text};

pub struct Gcp;

impl Adapter for Gcp {
    fn installed(&self) -> Option<(VendorCall, &'static str)> {
        Some((
            VendorCall::new("gcloud", ["--version"]).quiet(),
            "gcloud CLI",
        ))
    }

    fn login(
        &self,
        vendor: &mut dyn Vendor,
        account: Option<&str>,
    ) -> Result<Option<String>, AdapterError> {
        let call = VendorCall::new("gcloud", ["auth", "list", "--format=json"]);
        let out = vendor.run(&call);
        let any = json(&call, &out.stdout)
            .ok()
            .and_then(|v| v.as_array().map(|a| !a.is_empty()))
            .unwrap_or(false);
        if !any {
            return Err(AdapterError::new(
                "gcloud is not authenticated, please run `gcloud auth login`",
            ));
        }
        Ok(account.map(String::from))
    }

    fn fetch(
        &self,
        vendor: &mut dyn Vendor,
        secrets: &[String],
        _: Option<&str>,
        _: Option<&str>,
        session: Option<&str>,
    ) -> Result<Fetched, AdapterError> {
        let (user, impersonate) = match session.unwrap_or("default").split_once('|') {
            Some((u, i)) => (u.to_string(), Some(i.to_string())),
            None => (session.unwrap_or("default").to_string(), None),
        };
        let mut results = Fetched::default();
        for secret in secrets {
            let mut parts: Vec<&str> = secret.split('/').collect();
            if parts.len() == 1 {
                parts.insert(0, "default");
            }
            let (project, name) = (parts[0], parts.get(1).copied().unwrap_or_default());
            let version = parts.get(2).copied().unwrap_or("latest");
            let item = if project == "default" {
                name.to_string()
            } else {
                format!("{project}/{name}")
            };
            let mut args = vec![
                "secrets".to_string(),
                "versions".into(),
                "access".into(),
                version.into(),
                format!("--secret={name}"),
            ];
            if project != "default" {
                args.push(format!("--project={project}"));
            }
            if user != "default" {
                args.push(format!("--account={user}"));
            }
            if let Some(i) = &impersonate {
                args.push(format!("--impersonate-service-account={i}"));
            }
            args.push("--format=json".into());
            let call = VendorCall::new("gcloud", args);
            let v = read_json(vendor, &call, || {
                format!("Could not read {item} from Google Secret Manager")
            })?;
            let data = text(&v["payload"]["data"]);
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|e| AdapterError(format!("{item}: the payload is not base64 ({e})")))?;
            results.insert(item, String::from_utf8_lossy(&bytes).into_owned());
        }
        Ok(results)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fetch, recording::Scripted};

    #[test]
    fn project_name_version_and_impersonation() {
        let mut v = Scripted::new(&[
            ("gcloud --version", true, "Google Cloud SDK 500.0.0"),
            (
                "gcloud auth list --format=json",
                true,
                r#"[{"account":"me@example.com","status":"ACTIVE"}]"#,
            ),
            (
                "gcloud secrets versions access latest --secret=db --format=json",
                true,
                r#"{"name":"projects/1/secrets/db/versions/3","payload":{"data":"aHVudGVyMg==","dataCrc32c":"1"}}"#,
            ),
            (
                "gcloud secrets versions access 7 --secret=api --project=other --account=me@example.com --impersonate-service-account=sa@p.iam.gserviceaccount.com --format=json",
                true,
                r#"{"payload":{"data":"c2VjcmV0"}}"#,
            ),
        ]);
        let got = fetch(&mut v, "gcp", &["db".into()], Some("default"), None).unwrap();
        assert_eq!(got.0, vec![("db".into(), "hunter2".into())]);
        let got = fetch(
            &mut v,
            "gcp",
            &["other/api/7".into()],
            Some("me@example.com|sa@p.iam.gserviceaccount.com"),
            None,
        )
        .unwrap();
        assert_eq!(got.0, vec![("other/api".into(), "secret".into())]);
    }
}

//! Kamal's `test` adapter: each secret's value is its name reversed, with no
//! vault behind it (for trying a secrets file's idiom).

use super::{Adapter, AdapterError, Fetched, Vendor, VendorCall};

pub struct Test;

impl Adapter for Test {
    fn installed(&self) -> Option<(VendorCall, &'static str)> {
        None
    }
    fn login(&self, _: &mut dyn Vendor, _: Option<&str>) -> Result<Option<String>, AdapterError> {
        Ok(None)
    }
    fn fetch(
        &self,
        _: &mut dyn Vendor,
        secrets: &[String],
        _: Option<&str>,
        _: Option<&str>,
        _: Option<&str>,
    ) -> Result<Fetched, AdapterError> {
        let mut f = Fetched::default();
        for s in secrets {
            f.insert(s.clone(), s.chars().rev().collect::<String>());
        }
        Ok(f)
    }
}

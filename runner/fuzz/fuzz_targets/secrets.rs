//! `hoist::fuzzing::secrets` on every input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hoist::fuzzing::secrets(data));

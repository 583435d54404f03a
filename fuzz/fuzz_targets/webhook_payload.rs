//! The webhook payload parser on arbitrary bodies: it answers or refuses, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::offboarding::parse_delivery;

fuzz_target!(|data: &[u8]| {
    let _ = parse_delivery(data);
});

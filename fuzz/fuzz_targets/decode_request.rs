//! libFuzzer target: one request body (two bytes of JSON head length, the JSON head, the
//! binary section) decoded as the server's HTTP handler decodes it. A finding is a panic:
//! a decoded batch whose columns do not hold rows x width values, a refusal that is not a
//! 400, or any other panic (an overflow, an out-of-bounds index, an allocation abort).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pipec_runtime::fuzzing::decode_body(data);
});

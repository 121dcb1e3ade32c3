//! libFuzzer target: the `.pipe` front end, as `pipec check` runs it (parse, names, types,
//! artifact reads relative to `examples/titanic`, whose files the seeds name). A finding is a
//! panic or a broken invariant of `pipec_compiler::fuzzing::check_invariants` (errors and a
//! checked pipeline never together; labels inside the source on char boundaries; the rendering
//! keeps the code). The work runs on a thread with the CLI's 256 MiB stack.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let source = source.to_owned();
    let worker = std::thread::Builder::new().stack_size(256 << 20).spawn(move || {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/titanic");
        if let Err(broken) = pipec_compiler::fuzzing::check_invariants(&source, &base) {
            panic!("{broken}\n--- source ---\n{source}");
        }
    });
    if let Ok(Err(panic)) = worker.map(|handle| handle.join()) {
        std::panic::resume_unwind(panic);
    }
});

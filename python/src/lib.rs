//! `nsjoin._nsjoin`: the Rust half of the Python package `nsjoin`.
//!
//! Thin bindings over the `nsjoin` library: [`Namespace`] is the original `nsenter`
//! package's context manager on an [`nsjoin::Guard`]; `run` is [`nsjoin::Handles::run`];
//! `_spawn`/`_exec` are [`nsjoin::Spawn`]. The Python side (`python/nsjoin/`) adds the
//! `subprocess`-like `Process`/`run_command` and `python -m nsjoin` on top.
//!
//! No `unsafe` here (the library keeps all of it in its `sys.rs`). The GIL is released
//! around everything that can wait: opening a target, waiting for a thread or a
//! program. Entering and leaving on the calling thread keep it: the [`nsjoin::Guard`]
//! is `!Send`, so it cannot cross PyO3's `detach`, and setns(2) does not block.

#![forbid(unsafe_code)]

mod args;
mod command;
mod compat;
mod errors;
mod namespace;
mod stdio;

use pyo3::prelude::*;

/// Enter the Linux namespaces of a running process, and come back.
///
/// The Rust core of the `nsjoin` package; import `nsjoin`, not this module.
#[pymodule]
mod _nsjoin {
    use pyo3::prelude::*;
    use pyo3::types::PyFrozenSet;

    #[pymodule_export]
    use super::command::{_Child, _exec, _spawn};
    #[pymodule_export]
    use super::namespace::run;
    #[pymodule_export]
    use super::namespace::Namespace;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        let py = m.py();
        let names: Vec<&str> = nsjoin::KindSet::supported()
            .iter()
            .map(nsjoin::Kind::name)
            .collect();
        let names = PyFrozenSet::new(py, &names)?;
        m.add("SUPPORTED_KINDS", &names)?;
        // The original package's name for the kinds Namespace takes.
        m.add("NAMESPACE_NAMES", names)?;
        m.add(
            "ProcessNotFoundError",
            super::compat::process_not_found_type(py)?,
        )?;
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        Ok(())
    }
}

//! What a listing command needs from the C library and the process's start that
//! Rust's standard library does not tell: login names, the locale's character set,
//! whether standard output was closed before `main`. Each is a safe wrapper of one
//! call in `sys`.

/// The login name of `uid` (getpwuid_r(3)), if it has one.
pub fn user_name(uid: u32) -> Option<String> {
    crate::sys::passwd(uid).map(|p| p.name)
}

/// Whether standard output (fd 1) was closed when this process started, as in
/// `nsls >&-`: Rust's runtime puts `/dev/null` there before `main`, so a command
/// that prints its listing asks this to fail as C programs' writes would (EBADF)
/// rather than succeed having printed nothing.
pub fn stdout_was_closed() -> bool {
    crate::sys::stdout_closed_at_start()
}

/// Whether the environment's locale (LC_ALL, LC_CTYPE, LANG) uses UTF-8 and is
/// installed: what util-linux checks to draw trees with line characters.
pub fn locale_is_utf8() -> bool {
    crate::sys::env_locale_is_utf8()
}

//! [`SpawnOptions`]: a program's set-up as nsenter's options give it, in one value
//! that the `nsjoin` command and the Python package both fill in.

use super::{Dir, Id, Spawn};
use crate::{Handles, Kind, KindSet, Result};

/// What nsenter's options say about the program, for [`Spawn::with_options`]:
/// `-t`'s kinds, `-U` by name, `-r`, `-w`/`-W`, `-S`, `-G`,
/// `--preserve-credentials`, `-c`, `--keep-caps`, `-e`, `--confine`. The default is a plain
/// [`Spawn::new`], but for credentials: nsenter makes the program root in a user
/// namespace it enters unless told to preserve the caller's.
///
/// ```
/// # fn main() -> nsjoin::Result<()> {
/// use nsjoin::{Dir, Kind, KindSet, Spawn, SpawnOptions, Target};
/// let handles = Target::pid(std::process::id() as i32).open(KindSet::from(Kind::Uts))?;
/// let options = SpawnOptions {
///     cwd: Some(Dir::Inside("/".into())),
///     ..SpawnOptions::default()
/// };
/// let spawn = Spawn::with_options(&handles, &options)?;
/// # let _ = spawn;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpawnOptions {
    /// The kinds to enter ([`Spawn::kinds`]); empty: every kind the handles hold.
    pub kinds: KindSet,
    /// `-U` by name: a user namespace the caller is already in is setns(2)'s
    /// EINVAL rather than skipped ([`Spawn::strict_user`]).
    pub strict_user: bool,
    /// `-r`: the root directory ([`Spawn::root`]).
    pub root: Option<Dir>,
    /// `-w`/`-W`: the working directory ([`Spawn::cwd`]).
    pub cwd: Option<Dir>,
    /// `-S`: the user ID ([`Spawn::user`]).
    pub uid: Option<Id>,
    /// `-G`: the group ID ([`Spawn::group`]).
    pub gid: Option<Id>,
    /// `--preserve-credentials`: the program keeps the caller's IDs in a user
    /// namespace it enters, instead of becoming root there
    /// ([`Spawn::root_in_user_namespace`]).
    pub preserve_credentials: bool,
    /// `-c`: join the target's cgroup ([`Spawn::join_cgroup`]).
    pub join_cgroup: bool,
    /// `--keep-caps`: keep the capabilities as ambient ones; only when a user
    /// namespace is really entered, as nsenter does ([`Spawn::keep_caps`]).
    pub keep_caps: bool,
    /// `-e`: the target's environment ([`Spawn::target_env`]).
    pub target_env: bool,
    /// `--confine`: the target's security context ([`Spawn::confine`]).
    pub confine: bool,
    /// `--host-tools[=DIR]`: this machine's root, the target's at DIR
    /// ([`Spawn::host_tools`]).
    pub host_tools: Option<Option<std::path::PathBuf>>,
}

impl<'a> Spawn<'a> {
    /// A spawner for `handles` set up by nsenter's rules from `options`. Fails only
    /// with `keep_caps`, where it must know whether a user namespace will really be
    /// entered (not one the caller is already in; see [`Handles::plan`]).
    pub fn with_options(handles: &'a Handles, options: &SpawnOptions) -> Result<Spawn<'a>> {
        let keep_caps =
            options.keep_caps && handles.plan(options.kinds)?.kinds().contains(Kind::User);
        let mut spawn = Spawn::new(handles);
        spawn
            .kinds(options.kinds)
            .strict_user(options.strict_user)
            .root_in_user_namespace(!options.preserve_credentials)
            .join_cgroup(options.join_cgroup)
            .keep_caps(keep_caps)
            .target_env(options.target_env)
            .confine(options.confine);
        spawn.root = options.root.clone();
        spawn.cwd = options.cwd.clone();
        spawn.uid = options.uid;
        spawn.gid = options.gid;
        if let Some(dir) = &options.host_tools {
            spawn.host_tools(dir.clone());
        }
        Ok(spawn)
    }
}

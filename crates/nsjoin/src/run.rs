//! Run a closure inside namespaces, on a thread of its own.

use crate::plan;
use crate::{sys, Error, Handles, Kind, KindSet, Result, Target};

const NOT_ON_A_THREAD: &str =
    "the kernel allows it only in a single-threaded process; use nsjoin::Spawn to run a \
     program inside";

/// Opens `target`'s namespaces of `kinds` and runs `f` inside them on a new thread.
/// See [`Handles::run`].
///
/// ```
/// use nsjoin::{Kind, KindSet, NsId, Target};
/// # if rustix::process::geteuid().as_raw() != 0 { return; } // entering needs CAP_SYS_ADMIN
/// let me = Target::pid(std::process::id() as i32);
/// let inside = nsjoin::run_in(&me, KindSet::from([Kind::Net, Kind::Mnt]), || {
///     NsId::current(Kind::Net).unwrap()
/// })
/// .unwrap();
/// assert_eq!(inside, NsId::current(Kind::Net).unwrap());
/// ```
pub fn run_in<F, R>(target: &Target, kinds: KindSet, f: F) -> Result<R>
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    target.open(kinds)?.run(kinds, f)
}

impl Handles {
    /// Runs `f` on a thread of its own that enters the namespaces of `kinds` first
    /// (after `unshare(CLONE_FS)` when a mount namespace is among them) and ends when
    /// `f` returns, so no other thread, the caller's included, is ever touched.
    /// `f` may borrow from the caller. Its value comes back; a panic in `f` is
    /// resumed on the caller's thread. Safe to call from many threads at once.
    ///
    /// User and time namespaces are refused ([`Error::NeedsOtherApi`]): the kernel
    /// lets only a single-threaded process into them; [`crate::Spawn`] can.
    pub fn run<F, R>(&self, kinds: KindSet, f: F) -> Result<R>
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        let plan = self.plan_for_thread(
            kinds,
            KindSet::from([Kind::User, Kind::Time]),
            NOT_ON_A_THREAD,
        )?;
        let mut fds = self.fds();
        std::thread::scope(|scope| {
            let thread = std::thread::Builder::new()
                .name("nsjoin-run".into())
                .spawn_scoped(scope, move || -> Result<R> {
                    if plan.kinds().contains(Kind::Mnt) {
                        sys::unshare_fs().map_err(|e| Error::sys("unshare(CLONE_FS)", e))?;
                    }
                    plan::enter(&mut fds, plan).map_err(plan::Failed::into_error)?;
                    Ok(f())
                })
                .map_err(|e| Error::sys("cannot start a thread", e))?;
            match thread.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }
}

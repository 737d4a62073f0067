//! Enter on the calling thread and come back: the context manager done right.

use std::cell::Cell;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;

use rustix::fs::{Mode, OFlags};
use rustix::thread::move_into_link_name_space;

use crate::handles::thread_self_path;
use crate::plan::{self, Failed};
use crate::{sys, Error, Handles, Kind, KindSet, Result, Target};

const USER_IS_ONE_WAY: &str =
    "the kernel allows it only in a single-threaded process and it cannot be left again; \
     use nsjoin::Spawn to run a program inside, or Handles::enter_permanently in a \
     single-threaded program";

const MNT_SHARED_FS: &str =
    "this thread shares its root and working directory with other threads, so setns(2) \
     refuses (EINVAL); use nsjoin::run_in, which enters on a thread of its own, or call \
     nsjoin::unshare_thread_fs on this thread first";

const TIME_THREADS: &str =
    "the kernel allows it only in a single-threaded process (setns gives EUSERS); use \
     nsjoin::Spawn to run a program inside";

/// Gives the calling thread its own root directory, working directory and umask
/// (`unshare(CLONE_FS)`). setns(2) requires that before it moves a thread of a
/// multithreaded program into a mount namespace; afterwards a [`Guard`] can enter
/// mount namespaces on this thread. It cannot be undone: from then on a `chdir` on
/// this thread no longer moves the process's other threads, nor theirs this one.
pub fn unshare_thread_fs() -> Result<()> {
    sys::unshare_fs().map_err(|e| Error::sys("unshare(CLONE_FS)", e))
}

/// Opens `target`'s namespaces of `kinds` and enters them on the calling thread
/// until the returned [`Guard`] is dropped. See [`Handles::enter`].
///
/// ```no_run
/// # fn main() -> nsjoin::Result<()> {
/// use nsjoin::{Kind, Target};
/// let guard = nsjoin::enter(&Target::path("/run/netns/blue"), Kind::Net.into())?;
/// // this thread now sees blue's interfaces
/// guard.leave()?;
/// # Ok(()) }
/// ```
pub fn enter(target: &Target, kinds: KindSet) -> Result<Guard> {
    target.open(kinds)?.enter(kinds)
}

/// The calling thread's stay in some namespaces. Dropping it (or calling
/// [`Guard::leave`]) puts the thread back where it was, kind by kind in reverse
/// order, from handles on the thread's own namespaces (`/proc/thread-self/ns`)
/// opened before entering; after a mount namespace also the root and working
/// directory.
///
/// It is `!Send`: namespaces belong to a thread, so the guard must be dropped on
/// the thread that made it.
///
/// # If going back fails
/// The thread must not run on in a foreign namespace without anyone knowing.
/// [`Guard::leave`] returns [`Error::Restore`]; the thread is then still in the
/// namespace it names, and the caller must end the thread or the process. A
/// guard that is dropped cannot report anything, so a failed restore on drop
/// prints one line to stderr and aborts the process. (Going back fails only in
/// unusual cases, such as the thread having dropped the capabilities setns needs.)
#[derive(Debug)]
#[must_use = "dropping the guard leaves the namespaces at once"]
pub struct Guard {
    /// The way back, opened for this guard.
    saved: [Option<OwnedFd>; 8],
    /// The way back for the other kinds, saved once by a [`Home`].
    home: Option<Rc<[Option<OwnedFd>; 8]>>,
    entered: KindSet,
    root: Option<OwnedFd>,
    cwd: Option<OwnedFd>,
    _not_send: PhantomData<*const ()>,
}

thread_local! {
    /// How many guards are inside each kind on this thread. A [`Home`] is only
    /// where the thread is while none is.
    static INSIDE: Cell<[u32; 8]> = const { Cell::new([0; 8]) };
}

fn count_inside(kind: Kind, delta: i32) {
    INSIDE.with(|inside| {
        let mut counts = inside.get();
        counts[kind as usize] = counts[kind as usize].saturating_add_signed(delta);
        inside.set(counts);
    });
}

/// The calling thread's own namespaces of some kinds, opened once so that many
/// guards can come back to them without opening anything: for hot loops that
/// enter and leave thousands of times ([`Handles::enter_from`]).
///
/// A `Home` is `!Send`: it describes the thread that saved it. It stays true as
/// long as that thread changes namespaces only through nsjoin's guards (which
/// it tracks: while another guard is inside a kind, `enter_from` saves that
/// kind afresh, as [`Handles::enter`] does). A thread that calls setns(2) or
/// unshare(2) by other means after saving must save a new `Home`.
///
/// ```
/// use nsjoin::{Home, Kind, NsId, Target};
/// # if rustix::process::geteuid().as_raw() != 0 { return; } // entering needs CAP_SYS_ADMIN
/// let me = Target::pid(std::process::id() as i32).open(Kind::Uts.into()).unwrap();
/// let home = Home::save(Kind::Uts.into()).unwrap();
/// for _ in 0..1000 {
///     let guard = me.enter_from(&home, Kind::Uts.into()).unwrap();
///     guard.leave().unwrap();
/// }
/// ```
#[derive(Debug)]
pub struct Home {
    saved: Rc<[Option<OwnedFd>; 8]>,
    kinds: KindSet,
}

impl Home {
    /// Opens the calling thread's namespaces of `kinds` (user excepted: a guard
    /// never enters one).
    pub fn save(kinds: KindSet) -> Result<Home> {
        if kinds.contains(Kind::User) {
            return Err(Error::NeedsOtherApi {
                kind: Kind::User,
                why: USER_IS_ONE_WAY,
            });
        }
        let mut saved: [Option<OwnedFd>; 8] = Default::default();
        for kind in kinds.iter() {
            saved[kind as usize] = Some(save_current(kind)?);
        }
        Ok(Home {
            saved: Rc::new(saved),
            kinds,
        })
    }

    /// The kinds saved.
    pub fn kinds(&self) -> KindSet {
        self.kinds
    }
}

impl Handles {
    /// Enters the namespaces of `kinds` on the calling thread until the returned
    /// guard is dropped.
    ///
    /// A user namespace is refused ([`Error::NeedsOtherApi`]): the kernel lets only
    /// a single-threaded process into one and never back out. A time namespace
    /// works only in a single-threaded process (elsewhere the kernel's EUSERS
    /// becomes [`Error::NeedsOtherApi`]). A mount namespace works in a
    /// single-threaded program, or on a thread that has its own filesystem context
    /// ([`unshare_thread_fs`]); elsewhere setns refuses it and the error points to
    /// [`Handles::run`]. If one kind fails, the kinds already entered are left
    /// again before the error is returned.
    ///
    /// ```
    /// use nsjoin::{Kind, NsId, Target};
    /// # if rustix::process::geteuid().as_raw() != 0 { return; } // entering needs CAP_SYS_ADMIN
    /// let me = Target::pid(std::process::id() as i32).open(Kind::Uts.into()).unwrap();
    /// let guard = me.enter(Kind::Uts.into()).unwrap();
    /// assert_eq!(NsId::current(Kind::Uts).unwrap(), me.get(Kind::Uts).unwrap().id());
    /// guard.leave().unwrap();
    /// ```
    pub fn enter(&self, kinds: KindSet) -> Result<Guard> {
        self.enter_saving(kinds, None)
    }

    /// Like [`Handles::enter`], with the way back taken from `home` instead of
    /// opened each time (see [`Home`] for when that is valid). Kinds `home` did
    /// not save, or that another guard on this thread is inside, are saved
    /// afresh.
    pub fn enter_from(&self, home: &Home, kinds: KindSet) -> Result<Guard> {
        self.enter_saving(kinds, Some(home))
    }

    fn enter_saving(&self, kinds: KindSet, home: Option<&Home>) -> Result<Guard> {
        let plan = self.plan_for_thread(kinds, KindSet::from(Kind::User), USER_IS_ONE_WAY)?;
        let inside = INSIDE.with(Cell::get);
        let from_home = home.map_or(KindSet::EMPTY, |h| {
            h.kinds
                .intersection(plan.kinds())
                .iter()
                .filter(|k| inside[*k as usize] == 0)
                .collect()
        });
        let mut guard = Guard {
            saved: Default::default(),
            home: home
                .filter(|_| !from_home.is_empty())
                .map(|h| Rc::clone(&h.saved)),
            entered: KindSet::EMPTY,
            root: None,
            cwd: None,
            _not_send: PhantomData,
        };
        for kind in plan.kinds().difference(from_home).iter() {
            guard.saved[kind as usize] = Some(save_current(kind)?);
        }
        if plan.kinds().contains(Kind::Mnt) {
            guard.root = Some(open_dir("/")?);
            guard.cwd = Some(open_dir(".")?);
        }
        let result = plan::enter(&self.fds(), plan);
        guard.entered = match &result {
            Ok(()) => plan.kinds(),
            Err(failed) => failed.done,
        };
        for kind in guard.entered.iter() {
            count_inside(kind, 1);
        }
        match result {
            Ok(()) => Ok(guard),
            Err(failed) => {
                guard.leave()?;
                Err(enter_error(failed))
            }
        }
    }
}

fn enter_error(failed: Failed) -> Error {
    use rustix::io::Errno;
    match (failed.kind, failed.errno) {
        (Kind::Mnt, Errno::INVAL) => {
            return Error::NeedsOtherApi {
                kind: Kind::Mnt,
                why: MNT_SHARED_FS,
            }
        }
        (Kind::Time, Errno::USERS) => {
            return Error::NeedsOtherApi {
                kind: Kind::Time,
                why: TIME_THREADS,
            }
        }
        _ => {}
    }
    failed.into_error()
}

/// Opens the thread's own namespace of `kind`, to go back to. For pid that is
/// `pid_for_children` (what setns changes), which is missing only between an
/// unshare(CLONE_NEWPID) and the first child; then `pid` is what it will be.
fn save_current(kind: Kind) -> Result<OwnedFd> {
    let open = |path: &std::path::Path| {
        rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::open(path, e))
    };
    if kind == Kind::Pid {
        if let Ok(fd) = open("/proc/thread-self/ns/pid_for_children".as_ref()) {
            return Ok(fd);
        }
    }
    open(&thread_self_path(kind))
}

fn open_dir(path: &str) -> Result<OwnedFd> {
    rustix::fs::open(
        path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::open(path, e))
}

impl Guard {
    /// The kinds this guard entered (and will leave).
    pub fn entered(&self) -> KindSet {
        self.entered
    }

    /// Leaves the namespaces now and reports whether that worked. On error the
    /// thread is still in the namespace the error names (see the type's docs).
    pub fn leave(mut self) -> Result<()> {
        let result = self.restore();
        // Whatever happened, the caller now knows: drop must not act again.
        self.entered = KindSet::EMPTY;
        result
    }

    /// Goes back kind by kind, in the reverse of the entering order, and keeps
    /// going after a failure so that as much as possible is restored; the first
    /// error is returned. `entered` keeps what could not be restored.
    fn restore(&mut self) -> Result<()> {
        let mut first_error = None;
        for kind in Kind::ENTER_ORDER.into_iter().rev() {
            if !self.entered.contains(kind) {
                continue;
            }
            match self.restore_kind(kind) {
                Ok(()) => {
                    self.entered.remove(kind);
                    count_inside(kind, -1);
                }
                Err(source) => {
                    first_error.get_or_insert(Error::Restore { kind, source });
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn restore_kind(&self, kind: Kind) -> io::Result<()> {
        let saved = self.saved[kind as usize]
            .as_ref()
            .or_else(|| self.home.as_ref()?[kind as usize].as_ref())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))?;
        move_into_link_name_space(saved.as_fd(), None)?;
        if kind == Kind::Mnt {
            // setns put root and cwd at the namespace's root; put back the
            // thread's own (which may have been a chroot).
            if let (Some(root), Some(cwd)) = (&self.root, &self.cwd) {
                rustix::process::fchdir(root)?;
                rustix::process::chroot(".")?;
                rustix::process::fchdir(cwd)?;
            }
        }
        Ok(())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.entered.is_empty() {
            return;
        }
        if let Err(e) = self.restore() {
            eprintln!("nsjoin: {e}; aborting rather than letting this thread run on in a foreign namespace");
            std::process::abort();
        }
    }
}

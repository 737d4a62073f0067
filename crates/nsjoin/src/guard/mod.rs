//! Enter on the calling thread and come back: the context manager done right.

use std::cell::RefCell;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::rc::Rc;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use crate::plan::{self, Failed, Plan};
use crate::{procfs, sys, Error, Handles, Kind, KindMap, KindSet, Result};

mod oneshot;
pub use oneshot::{enter, EnteredBy};

const USER_IS_ONE_WAY: &str =
    "the kernel allows it only in a single-threaded process and it cannot be left again; \
     use nsjoin::Spawn to run a program inside, or Handles::enter_permanently in a \
     single-threaded program";

const MNT_SHARED_FS: &str =
    "this thread shares its root and working directory with other threads, so setns(2) \
     refuses (EINVAL); use nsjoin::run_in, which enters on a thread of its own, or call \
     nsjoin::unshare_thread_fs on this thread first";

const ONE_THREAD_ONLY: &str =
    "the kernel allows it only in a single-threaded process, and this one has several \
     threads; nothing was entered. Use nsjoin::Spawn to run a program inside";

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

/// The calling thread's stay in some namespaces. Dropping it (or calling
/// [`Guard::leave`]) puts the thread back where it was, kind by kind in reverse
/// order; after a mount namespace also the root and working directory.
///
/// It is `!Send`: namespaces belong to a thread, so the guard must be dropped on
/// the thread that made it.
///
/// # The way back
/// Each thread keeps a stack of its live guards per kind. A guard that starts while
/// no other guard is inside a kind goes back to the thread's *own* namespace of that
/// kind, which nsjoin takes once per thread, the first time it enters that kind there
/// (through a pidfd of the thread on Linux 6.11, else `/proc/thread-self/ns` under a
/// pinned `/proc`), and reuses after: entering and leaving then open nothing. A guard
/// that starts inside another goes back to where that one put the thread. A thread
/// that changes its own namespaces by other means (setns(2), unshare(2)) while no
/// guard is inside must call [`forget_thread_home`] afterwards.
///
/// # Leaving out of order
/// Guards may be left in any order, and the thread always ends where it started.
/// Leaving the innermost guard of a kind moves the thread back. Leaving one that is
/// not the innermost does not move the thread (the guards entered after it are still
/// live, and the thread stays where the innermost put it); its way back is handed to
/// the guard entered right after it, so that the thread goes where this one would
/// have taken it when that guard leaves. [`Guard::leave`] returns `Ok` in both cases.
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
    /// This guard's frames on the thread's stacks.
    id: u64,
    entered: KindSet,
    by: EnteredBy,
    _not_send: PhantomData<*const ()>,
}

/// One guard's stay in one kind: where to go when it leaves.
#[derive(Debug)]
struct Frame {
    guard: u64,
    kind: Kind,
    back: Rc<OwnedFd>,
    /// Root and working directory to put back after a mount namespace.
    dirs: Option<Rc<(OwnedFd, OwnedFd)>>,
}

/// What nsjoin knows of the calling thread's namespaces.
struct ThreadState {
    /// The thread's own namespace of each kind, taken the first time a guard
    /// entered that kind here with no other guard inside it.
    home: KindMap<Rc<OwnedFd>>,
    /// The live guards inside each kind, innermost last.
    stacks: [Vec<Frame>; 8],
    next_id: u64,
}

thread_local! {
    static THREAD: RefCell<ThreadState> = const {
        RefCell::new(ThreadState {
            home: KindMap::new(),
            stacks: [const { Vec::new() }; 8],
            next_id: 0,
        })
    };
}

/// Forgets the namespaces nsjoin took as the calling thread's own (see [`Guard`]),
/// so that the next guard takes them afresh. Call it after the thread changed its
/// namespaces by other means than nsjoin (setns(2), unshare(2)).
pub fn forget_thread_home() {
    let _ = THREAD.try_with(|t| t.borrow_mut().home = KindMap::new());
}

pub(crate) fn forget_home_of(kinds: KindSet) {
    let _ = THREAD.try_with(|t| {
        let mut t = t.borrow_mut();
        for kind in kinds.iter() {
            t.home.remove(kind);
        }
    });
}

/// The calling thread's own namespaces of some kinds, opened once, for guards to
/// come back to ([`Handles::enter_from`]). Plain [`Handles::enter`] keeps such a home
/// for every thread already; an explicit one says where "home" is, whatever the
/// thread did before.
///
/// A `Home` is `!Send`: it describes the thread that saved it. Kinds that another
/// guard on this thread is inside when `enter_from` is called are saved afresh, as
/// [`Handles::enter`] does.
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
    saved: KindMap<Rc<OwnedFd>>,
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
        let mut saved = KindMap::new();
        for kind in kinds.iter() {
            saved.insert(kind, Rc::new(save_current(kind)?));
        }
        Ok(Home { saved, kinds })
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
    /// again before the error is returned. See [`Guard`] for the way back.
    ///
    /// ```
    /// use nsjoin::{Kind, NsId, Target};
    /// # if rustix::process::geteuid().as_raw() != 0 { return; } // entering needs CAP_SYS_ADMIN
    /// let me = Target::pid(std::process::id() as i32).open(Kind::Uts.into()).unwrap();
    /// let guard = me.enter(Kind::Uts.into()).unwrap();
    /// assert_eq!(NsId::current(Kind::Uts).unwrap(), me.get(Kind::Uts).unwrap().id());
    /// guard.leave().unwrap();
    /// ```
    #[inline]
    pub fn enter(&self, kinds: KindSet) -> Result<Guard> {
        self.enter_saving(kinds, None)
    }

    /// Like [`Handles::enter`], with the way back taken from `home` for the kinds it
    /// saved and no other guard on this thread is inside.
    #[inline]
    pub fn enter_from(&self, home: &Home, kinds: KindSet) -> Result<Guard> {
        self.enter_saving(kinds, Some(home))
    }

    /// The setns(2) calls are made here, inlined into the caller's function, with
    /// the bookkeeping before and after them in functions of their own (see
    /// [`guarded`]).
    ///
    /// One kind that needs nothing but its setns (not mnt, and not user, which is
    /// refused) takes a shorter way with the same outcome: [`Handles::begin_one`]
    /// puts the guard's frame on the thread's stack before the setns, so that after
    /// it nothing is left to do but return the guard (or, if it failed, take the
    /// frame off again). On this machine every branch after a system call is cold,
    /// so the less code runs between the two setns of an enter and leave, the
    /// better.
    #[inline(always)]
    fn enter_saving(&self, kinds: KindSet, home: Option<&Home>) -> Result<Guard> {
        if let Some(kind) = single_kind(kinds) {
            if let Some(begun) = self.begin_one(kind, home) {
                let (fd, id) = begun?;
                return match plan::setns_kind(fd, kind) {
                    Ok(()) => Ok(Guard::new(id, kinds, EnteredBy::NamespaceFds)),
                    Err(_) => one_failed(fd, kind, id),
                };
            }
        }
        let (plan, begun) = self.begin_enter(kinds, home)?;
        let result = plan::enter(&mut self.fds(), plan);
        begun.end(result)
    }

    /// The single-kind way of [`Handles::enter_saving`]: the fd to enter and the
    /// guard's id, with the guard's frame already on the thread's stack; `None` if
    /// `kind` was not opened (the general way then says so).
    #[inline(never)]
    fn begin_one(&self, kind: Kind, home: Option<&Home>) -> Option<Result<(BorrowedFd<'_>, u64)>> {
        let fd = self.get(kind)?.as_fd();
        Some(push_frame(kind, home).map(|id| (fd, id)))
    }

    #[inline(never)]
    fn begin_enter(&self, kinds: KindSet, home: Option<&Home>) -> Result<(Plan, Begun)> {
        let plan = self.plan_for_thread(kinds, KindSet::from(Kind::User), USER_IS_ONE_WAY)?;
        let begun = Begun::new(plan.kinds(), home, EnteredBy::NamespaceFds)?;
        Ok((plan, begun))
    }
}

/// Takes the way back for every one of `kinds` (before anything is entered), runs
/// `enter`, and records one frame per kind entered on the thread's stacks. If
/// `enter` fails, what it did enter is left again before the error is returned.
///
/// Why in three parts, with `enter` inlined between two calls: on the machine the
/// benchmarks run on (AMD EPYC, a kernel with the SRSO return-predictor
/// mitigation), a return after a system call into a frame made before it costs
/// hundreds of nanoseconds, about as much as a setns(2) itself (measured, not
/// derived: `raw_setns_pair_in_fn` in `benches/enter.rs` and
/// `benches/interleaved.rs` is the same pair as `raw_setns_pair` made from a
/// function, 1.4x its time). So no function that makes a setns returns between it
/// and the caller: the call before it ([`Begun::new`]) returns before it, and the
/// call after it ([`Begun::end`]) is made after it.
#[inline(always)]
fn guarded(
    kinds: KindSet,
    home: Option<&Home>,
    by: EnteredBy,
    enter: impl FnOnce() -> Result<(), Failed>,
) -> Result<Guard> {
    if let Some(kind) = single_kind(kinds) {
        let id = push_frame(kind, home)?;
        return match enter() {
            Ok(()) => Ok(Guard::new(id, kinds, by)),
            Err(failed) => Err(pop_failed(kind, id, failed)),
        };
    }
    let begun = Begun::new(kinds, home, by)?;
    begun.end(enter())
}

/// The single-kind way of [`guarded`] and [`Handles::enter`]: takes the way back
/// and puts the guard's frame for `kind` on the thread's stack before anything is
/// entered, and returns the guard's id.
#[inline(never)]
fn push_frame(kind: Kind, home: Option<&Home>) -> Result<u64> {
    THREAD.with_borrow_mut(|t| {
        let back = way_back(t, kind, home)?;
        t.next_id += 1;
        let id = t.next_id;
        t.stacks[kind as usize].push(Frame {
            guard: id,
            kind,
            back,
            dirs: None,
        });
        Ok(id)
    })
}

/// A single kind failed to enter (so nothing was entered): the guard's frame comes
/// off the thread's stack again (it is the innermost: nothing ran since it was put
/// there), and the error is the one the general way returns.
#[cold]
#[inline(never)]
fn pop_failed(kind: Kind, id: u64, failed: Failed) -> Error {
    drop(take_frame(kind, id));
    enter_error(failed)
}

/// The kinds that [`Handles::enter`] and [`Guard::leave`] enter and leave the
/// short way: a single kind whose setns(2) is all there is to do (mnt also moves
/// root and working directory; user is never entered by a guard).
#[inline(always)]
fn single_kind(kinds: KindSet) -> Option<Kind> {
    kinds
        .only()
        .filter(|kind| !matches!(kind, Kind::Mnt | Kind::User))
}

/// The single-kind setns failed: [`plan::enter`] tries a kind once more, with the
/// error then fatal, and so does this (see [`pop_failed`] if that fails too).
#[cold]
#[inline(never)]
fn one_failed(fd: BorrowedFd<'_>, kind: Kind, id: u64) -> Result<Guard> {
    let errno = match plan::setns_kind(fd, kind) {
        Ok(()) => return Ok(Guard::new(id, kind.into(), EnteredBy::NamespaceFds)),
        Err(errno) => errno,
    };
    let done = KindSet::EMPTY;
    Err(pop_failed(kind, id, Failed { kind, errno, done }))
}

/// Where a guard entering `kind` goes back to: the thread's own namespace (from
/// `home` if given, else the one kept for the thread, taken now the first time) if
/// no other guard is inside `kind`, else where that guard put the thread.
#[inline(always)]
fn way_back(t: &mut ThreadState, kind: Kind, home: Option<&Home>) -> Result<Rc<OwnedFd>> {
    let inside = !t.stacks[kind as usize].is_empty();
    Ok(match (inside, home.and_then(|h| h.saved.get(kind))) {
        (false, Some(saved)) => Rc::clone(saved),
        (false, None) => match t.home.get(kind) {
            Some(own) => Rc::clone(own),
            None => {
                let own = Rc::new(save_current(kind)?);
                t.home.insert(kind, Rc::clone(&own));
                own
            }
        },
        (true, _) => Rc::new(save_current(kind)?),
    })
}

/// A guard about to enter: its id and its ways back, taken before anything is
/// entered.
struct Begun {
    kinds: KindSet,
    by: EnteredBy,
    id: u64,
    backs: KindMap<Rc<OwnedFd>>,
    dirs: Option<Rc<(OwnedFd, OwnedFd)>>,
}

impl Begun {
    #[inline(never)]
    fn new(kinds: KindSet, home: Option<&Home>, by: EnteredBy) -> Result<Begun> {
        let mut backs = KindMap::new();
        let id = THREAD.with_borrow_mut(|t| -> Result<u64> {
            for kind in kinds.iter() {
                backs.insert(kind, way_back(t, kind, home)?);
            }
            t.next_id += 1;
            Ok(t.next_id)
        })?;
        let dirs = if kinds.contains(Kind::Mnt) {
            Some(Rc::new((open_dir("/")?, open_dir(".")?)))
        } else {
            None
        };
        Ok(Begun {
            kinds,
            by,
            id,
            backs,
            dirs,
        })
    }

    /// Records on the thread's stacks what `result` says was entered; if it is an
    /// error, leaves that again and returns the error.
    #[inline(never)]
    fn end(mut self, result: Result<(), Failed>) -> Result<Guard> {
        let entered = match &result {
            Ok(()) => self.kinds,
            Err(failed) => failed.done,
        };
        let (id, dirs) = (self.id, self.dirs.take());
        THREAD.with_borrow_mut(|t| {
            for kind in entered.iter() {
                t.stacks[kind as usize].push(Frame {
                    guard: id,
                    kind,
                    back: self
                        .backs
                        .remove(kind)
                        .expect("a way back for every planned kind"),
                    dirs: if kind == Kind::Mnt {
                        dirs.clone()
                    } else {
                        None
                    },
                });
            }
        });
        let guard = Guard::new(id, entered, self.by);
        match result {
            Ok(()) => Ok(guard),
            Err(failed) => {
                guard.leave()?;
                Err(enter_error(failed))
            }
        }
    }
}

impl Handles {
    /// Moves the calling thread into the namespaces of `kinds`, for good: nothing
    /// restores them later. This is what a single-threaded program does before it
    /// execs (the `nsjoin` command does it); it is the only in-process way to enter
    /// user and time namespaces, which the kernel allows only while the process has
    /// one thread. A multithreaded program wants [`Handles::enter`],
    /// [`Handles::run`] or [`crate::Spawn`] instead.
    ///
    /// All or nothing: user or time in a multithreaded process is refused before
    /// anything is entered ([`Error::NeedsOtherApi`]), and if a kind fails after
    /// others were entered, those are left again before the error is returned
    /// (except a user namespace, which cannot be left: the kernel lets a process
    /// only into descendants of its own; if going back then fails, the error is
    /// [`Error::Restore`] naming where the thread still is).
    pub fn enter_permanently(&self, kinds: KindSet) -> Result<Plan> {
        let plan = self.plan(kinds)?;
        let one_way = plan
            .kinds()
            .intersection(KindSet::from([Kind::User, Kind::Time]));
        if let Some(kind) = one_way.iter().next() {
            if procfs::thread_count()? > 1 {
                return Err(Error::NeedsOtherApi {
                    kind,
                    why: ONE_THREAD_ONLY,
                });
            }
        }
        let mut back = KindMap::new();
        for kind in plan.kinds().iter().filter(|k| *k != Kind::User) {
            back.insert(kind, save_current(kind)?);
        }
        let dirs = if plan.kinds().contains(Kind::Mnt) {
            Some(Rc::new((open_dir("/")?, open_dir(".")?)))
        } else {
            None
        };
        let Err(failed) = plan::enter(&mut self.fds(), plan) else {
            forget_home_of(plan.kinds());
            return Ok(plan);
        };
        for kind in Kind::ENTER_ORDER.into_iter().rev() {
            let Some(fd) = back.remove(kind).filter(|_| failed.done.contains(kind)) else {
                continue;
            };
            let frame = Frame {
                guard: 0,
                kind,
                back: Rc::new(fd),
                dirs: if kind == Kind::Mnt {
                    dirs.clone()
                } else {
                    None
                },
            };
            restore_kind(&frame).map_err(|source| Error::Restore { kind, source })?;
        }
        // As nsenter says it: the command prints this error as it is.
        Err(failed.into_error())
    }
}

fn enter_error(failed: Failed) -> Error {
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
/// `pid_for_children` (what setns changes).
fn save_current(kind: Kind) -> Result<OwnedFd> {
    procfs::thread_namespace(kind, true).map(|(fd, _, _)| fd)
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
    /// The guard of frame `id`, which entered `entered` the way `by` says.
    #[inline]
    fn new(id: u64, entered: KindSet, by: EnteredBy) -> Guard {
        Guard {
            id,
            entered,
            by,
            _not_send: PhantomData,
        }
    }

    /// The kinds this guard entered (and will leave).
    pub fn entered(&self) -> KindSet {
        self.entered
    }

    /// How the namespaces were entered: through namespace fds, or in one step
    /// through the target process's pidfd (see [`enter`]).
    pub fn entered_by(&self) -> EnteredBy {
        self.by
    }

    /// Leaves the namespaces now and reports whether that worked. On error the
    /// thread is still in the namespace the error names (see the type's docs).
    #[inline(always)]
    pub fn leave(mut self) -> Result<()> {
        let result = self.restore();
        // Whatever happened, the caller now knows: drop must not act again.
        self.entered = KindSet::EMPTY;
        result
    }

    /// Goes back kind by kind, in the reverse of the entering order, and keeps
    /// going after a failure so that as much as possible is restored; the first
    /// error is returned. Every frame of this guard is gone afterwards.
    #[inline(always)]
    fn restore(&mut self) -> Result<()> {
        // One kind with nothing but its setns to undo: the frame, then the setns,
        // then nothing but the frame's drop (see `Handles::enter_saving`).
        if let Some(kind) = single_kind(self.entered) {
            self.entered = KindSet::EMPTY;
            let Some(frame) = take_frame(kind, self.id) else {
                return Ok(());
            };
            return match plan::setns_kind(frame.back.as_fd(), kind) {
                Ok(()) => Ok(()),
                Err(errno) => Err(restore_failed(kind, errno)),
            };
        }
        let mut first_error = None;
        // The setns of each kind inlined here, as in `guarded`.
        while let Some(frame) = self.next_way_back() {
            let result = restore_kind(&frame);
            after_restore(frame, result, &mut first_error);
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The next frame of this guard to go back through, in the reverse of the
    /// entering order, taken off the thread's stack. A frame that is not the
    /// innermost of its kind is not returned: the thread stays where the guards
    /// after this one put it, and the next one inherits its way back.
    #[inline(never)]
    fn next_way_back(&mut self) -> Option<Frame> {
        for kind in Kind::ENTER_ORDER.into_iter().rev() {
            if !self.entered.contains(kind) {
                continue;
            }
            self.entered.remove(kind);
            if let Some(frame) = take_frame(kind, self.id) {
                return Some(frame);
            }
        }
        None
    }
}

/// Takes guard `id`'s frame of `kind` off the thread's stack, and returns it if it
/// was the innermost: the thread is to go back through it. A frame with others
/// after it hands its way back to the next one instead, and `None` is returned.
#[inline(never)]
fn take_frame(kind: Kind, id: u64) -> Option<Frame> {
    // The thread's state is gone only while the thread itself is ending.
    THREAD
        .try_with(|t| {
            let stack = &mut t.borrow_mut().stacks[kind as usize];
            if stack.last().is_some_and(|f| f.guard == id) {
                return stack.pop();
            }
            let at = stack.iter().rposition(|f| f.guard == id)?;
            let frame = stack.remove(at);
            match stack.get_mut(at) {
                Some(next) => {
                    next.back = frame.back;
                    next.dirs = frame.dirs;
                    None
                }
                None => Some(frame),
            }
        })
        .ok()
        .flatten()
}

/// [`Error::Restore`] for a single kind's failed setns back.
#[cold]
#[inline(never)]
fn restore_failed(kind: Kind, errno: Errno) -> Error {
    Error::Restore {
        kind,
        source: io::Error::from(errno),
    }
}

/// Keeps the first error of a guard's going back, and lets the frame go.
#[inline(never)]
fn after_restore(frame: Frame, result: io::Result<()>, first_error: &mut Option<Error>) {
    if let Err(source) = result {
        first_error.get_or_insert(Error::Restore {
            kind: frame.kind,
            source,
        });
    }
}

#[inline(always)]
fn restore_kind(frame: &Frame) -> io::Result<()> {
    plan::setns_kind(frame.back.as_fd(), frame.kind)?;
    if let Some(dirs) = &frame.dirs {
        // setns put root and cwd at the namespace's root; put back the thread's
        // own (which may have been a chroot).
        let (root, cwd) = &**dirs;
        rustix::process::fchdir(root)?;
        rustix::process::chroot(".")?;
        rustix::process::fchdir(cwd)?;
    }
    Ok(())
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

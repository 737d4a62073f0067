//! What `nsls` prints: lsns' columns and views over [`nsjoin::Scan`]'s listing.
//!
//! Discovery is the library's; this module only decides which rows and columns
//! lsns would show, in which order and under which parent row, and fills the cells.
//! The functions follow lsns.c's (show_namespaces, show_namespace, add_scols_line,
//! show_namespace_processes, show_process, fill_column) so that edge cases come out
//! the same.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub mod args;
mod columns;
pub mod filter;
pub mod procs;

use nsjoin::list::{ContainerResolver, EngineConfirmed, Listing, NsInfo};
use nsjoin::{Kind, KindSet, Scan};

use columns::{add_columns, info_of, INFOS};
pub use columns::{list_columns, Col};
use procs::Procs;

use crate::table::{Column, Format, JsonType, Output, Table};
use args::{Config, Tree};

/// An error for the user, printed as `nsls: MESSAGE` (exit status 1); an empty
/// message prints nothing (lsns' silent failures, e.g. an empty `-o`).
#[derive(Debug)]
pub struct Failure(pub String);

/// The state of one `nsls` run.
struct View<'a> {
    cfg: &'a Config,
    listing: &'a Listing,
    /// The namespaces lsns would have in its list (held, and related ones it reaches).
    visible: HashSet<u64>,
    columns: Vec<Col>,
    table: Table,
    procs: Procs,
    proc_line: HashMap<i32, usize>,
    ns_line: HashMap<u64, usize>,
    no_wrap: bool,
    /// `-Q`, its columns indexes into [`INFOS`].
    filter: Option<filter::Bound>,
}

/// A row's cells as `-Q` reads them, filled only when asked for.
struct Cells<'v, 'a, 'n> {
    view: &'v mut View<'a>,
    ns: &'n NsInfo,
    pid: Option<i32>,
}

impl filter::Row for Cells<'_, '_, '_> {
    fn cell(&mut self, i: usize) -> String {
        self.view.fill(self.ns, self.pid, INFOS[i].col)
    }

    fn numeric(&self, i: usize) -> bool {
        INFOS[i].number
    }
}

/// Runs `nsls` with these options and returns what it prints.
pub fn run(cfg: &Config, output: Output) -> Result<String, Failure> {
    let kinds: KindSet = if cfg.kinds.is_empty() {
        KindSet::supported()
    } else {
        cfg.kinds.iter().copied().collect()
    };
    let resolver: Arc<dyn ContainerResolver> = Arc::new(EngineConfirmed::default());
    let listing = Scan::new()
        .kinds(kinds)
        .containers(Some(Arc::clone(&resolver)))
        .run()
        .map_err(|e| Failure(e.to_string()))?;
    let visible = visible_set(&listing, cfg.tree);

    let columns = pick_columns(cfg)?;
    let filter = match &cfg.filter {
        Some(f) => Some(f.bind(&column_names()).map_err(|unknown| {
            // lsns names every unknown column, then gives up.
            let mut msg: Vec<String> = unknown
                .iter()
                .map(|n| format!("unknown column: {n}"))
                .collect();
            msg.push("failed to initialize filter".into());
            Failure(msg.join("\nnsls: "))
        })?),
        None => None,
    };

    let format = Format::of(cfg.opts.json, cfg.opts.raw);
    let no_wrap = cfg.opts.nowrap || cfg.opts.raw;
    let table_columns = columns
        .iter()
        .map(|&c| {
            let i = info_of(c);
            let owner_tree = matches!(cfg.tree, Tree::Owner | Tree::Parent) && c == Col::Ns;
            Column {
                name: i.name.into(),
                whint: i.whint,
                right: i.right && !owner_tree,
                trunc: i.trunc && !cfg.opts.notruncate,
                tree: (cfg.tree == Tree::Process && c == Col::Command) || owner_tree,
                wrap_nl: i.wrap && !no_wrap,
                json: if i.number {
                    JsonType::Number
                } else {
                    JsonType::String
                },
            }
        })
        .collect();
    let mut view = View {
        cfg,
        listing: &listing,
        visible,
        columns,
        table: Table::new("namespaces", table_columns, format, cfg.opts.noheadings),
        procs: Procs::new(Arc::clone(&resolver)),
        proc_line: HashMap::new(),
        ns_line: HashMap::new(),
        no_wrap,
        filter,
    };
    match cfg.namespace {
        Some(ino) => {
            let ns = listing
                .get(ino)
                .filter(|ns| view.visible.contains(&ns.ino))
                .ok_or_else(|| Failure(format!("not found namespace: {ino}")))?;
            view.show_namespace_processes(ns);
        }
        None => view.show_namespaces(),
    }
    Ok(view.table.render(output))
}

/// The columns lsns would print (its defaults, `--output-all`: lsns' own, `-o`),
/// with CONTAINER where `-c` (or `-o`) asks for it: before COMMAND in the
/// defaults, else last.
fn pick_columns(cfg: &Config) -> Result<Vec<Col>, Failure> {
    let mut columns = Vec::new();
    if cfg.opts.output_all {
        columns = INFOS
            .iter()
            .map(|i| i.col)
            .filter(|&c| c != Col::Container)
            .collect();
    }
    if cfg.namespace.is_some() && columns.is_empty() {
        columns = vec![Col::Pid, Col::Ppid, Col::User, Col::Command];
    }
    if columns.is_empty() {
        columns = vec![Col::Ns, Col::Type, Col::Nprocs, Col::Pid, Col::User];
        if cfg.kinds.contains(&Kind::Net) {
            columns.extend([Col::Netnsid, Col::Nsfs]);
        }
        columns.push(Col::Command);
    }
    if let Some(list) = &cfg.opts.output {
        add_columns(&mut columns, list)?;
    }
    if cfg.opts.containers && !columns.contains(&Col::Container) {
        match columns.iter().position(|&c| c == Col::Command) {
            Some(i) if cfg.opts.output.is_none() && !cfg.opts.output_all => {
                columns.insert(i, Col::Container)
            }
            _ => columns.push(Col::Container),
        }
    }
    Ok(columns)
}

/// Every column's name, as a filter refers to it.
fn column_names() -> Vec<&'static str> {
    INFOS.iter().map(|i| i.name).collect()
}

/// Whether the -p and -P filters let a namespace through.
fn shown(cfg: &Config, listing: &Listing, ns: &NsInfo) -> bool {
    if let Some(pid) = cfg.task {
        if listing.process(pid).and_then(|p| p.ns(ns.kind)) != Some(ns.ino) {
            return false;
        }
    }
    !(cfg.opts.persistent && ns.nprocs != 0)
}

/// The namespaces lsns 2.41 ends up with. Those held by a process, mount, fd or
/// socket always; those known only as an owner or parent when lsns walks to
/// them: from fd- and socket-held namespaces (found while processes are read, so
/// the walk goes on through any namespace), from bind-mounted namespaces without
/// processes (stopping at namespaces already known), and, for the owner and
/// parent trees, from every namespace.
fn visible_set(listing: &Listing, tree: Tree) -> HashSet<u64> {
    let held: HashSet<u64> = listing
        .namespaces
        .iter()
        .filter(|ns| !ns.only_related())
        .map(|ns| ns.ino)
        .collect();
    let mut visible = held.clone();
    let related = |ns: &NsInfo| -> Vec<u64> { ns.parent.into_iter().chain(ns.owner).collect() };
    // From fds and sockets: through everything.
    let mut stack: Vec<u64> = listing
        .namespaces
        .iter()
        .filter(|ns| ns.fd.is_some() || ns.socket.is_some())
        .map(|ns| ns.ino)
        .collect();
    let mut walked: HashSet<u64> = HashSet::new();
    while let Some(ino) = stack.pop() {
        if !walked.insert(ino) {
            continue;
        }
        let Some(ns) = listing.get(ino) else { continue };
        visible.insert(ino);
        stack.extend(related(ns));
    }
    // From mounts of namespaces no process is in, and (trees) from everything:
    // only into namespaces nothing else holds.
    let seeds: Vec<u64> = listing
        .namespaces
        .iter()
        .filter(|ns| {
            matches!(tree, Tree::Owner | Tree::Parent)
                || (!ns.mounts.is_empty()
                    && ns.nprocs == 0
                    && ns.fd.is_none()
                    && ns.socket.is_none())
        })
        .filter(|ns| held.contains(&ns.ino) || visible.contains(&ns.ino))
        .map(|ns| ns.ino)
        .collect();
    for seed in seeds {
        let mut stack: Vec<u64> = listing.get(seed).map(related).unwrap_or_default();
        while let Some(ino) = stack.pop() {
            if visible.contains(&ino) {
                continue;
            }
            let Some(ns) = listing.get(ino) else { continue };
            visible.insert(ino);
            stack.extend(related(ns));
        }
    }
    visible
}

impl View<'_> {
    fn ns(&self, ino: u64) -> Option<&NsInfo> {
        self.listing
            .get(ino)
            .filter(|ns| self.visible.contains(&ns.ino))
    }

    fn owner_of(&self, ns: &NsInfo) -> Option<u64> {
        ns.owner.and_then(|o| self.ns(o)).map(|o| o.ino)
    }

    fn parent_of(&self, ns: &NsInfo) -> Option<u64> {
        ns.parent.and_then(|p| self.ns(p)).map(|p| p.ino)
    }

    /// show_namespaces()
    fn show_namespaces(&mut self) {
        let listing = self.listing;
        for ns in &listing.namespaces {
            if !self.visible.contains(&ns.ino) || !shown(self.cfg, listing, ns) {
                continue;
            }
            if !self.ns_line.contains_key(&ns.ino) {
                self.show_namespace(ns, ns.pid);
            }
        }
    }

    /// show_namespace(): an owner (or parent) is printed before what it owns.
    fn show_namespace(&mut self, ns: &NsInfo, pid: Option<i32>) {
        let listing = self.listing;
        // The owner tree goes up to owners; the parent tree to parents, or to the
        // owner of a namespace without a parent.
        let above = match self.cfg.tree {
            Tree::Owner => self.owner_of(ns),
            Tree::Parent => self.parent_of(ns).or_else(|| self.owner_of(ns)),
            _ => None,
        };
        if let Some(up) = above.and_then(|i| listing.get(i)) {
            if !self.ns_line.contains_key(&up.ino) {
                self.show_namespace(up, up.pid);
            }
        }
        self.add_line(ns, pid);
    }

    /// show_namespace_processes(): the processes of one namespace.
    fn show_namespace_processes(&mut self, ns: &NsInfo) {
        let listing = self.listing;
        for p in listing.members(ns) {
            if !self.proc_line.contains_key(&p.pid) {
                self.show_process(p.pid, ns);
            }
        }
    }

    /// show_process(): a parent in the same namespace is printed first.
    fn show_process(&mut self, pid: i32, ns: &NsInfo) {
        if self.cfg.tree == Tree::Process {
            let ppid = self.procs.ppid(pid);
            if ppid != pid && !self.proc_line.contains_key(&ppid) {
                if let Some(parent) = self.listing.process(ppid) {
                    if parent.ns(ns.kind) == Some(ns.ino) {
                        self.show_process(ppid, ns);
                    }
                }
            }
        }
        self.add_line(ns, Some(pid));
    }

    /// add_scols_line(): a row `-Q` refuses is not added (what would have been
    /// its children are then shown without a parent row).
    fn add_line(&mut self, ns: &NsInfo, pid: Option<i32>) {
        if let Some(f) = self.filter.take() {
            let pass = f.matches(&mut Cells {
                view: self,
                ns,
                pid,
            });
            self.filter = Some(f);
            if !pass {
                return;
            }
        }
        let parent = match (self.cfg.tree, pid) {
            (Tree::Process, Some(pid)) => {
                let ppid = self.procs.ppid(pid);
                self.proc_line.get(&ppid).copied()
            }
            (Tree::Parent, _) => self
                .parent_of(ns)
                .and_then(|p| self.ns_line.get(&p).copied()),
            (Tree::Owner, _) => self
                .owner_of(ns)
                .and_then(|o| self.ns_line.get(&o).copied()),
            _ => None,
        };
        let line = self.table.new_line(parent);
        for i in 0..self.columns.len() {
            let data = self.fill(ns, pid, self.columns[i]);
            self.table.set(line, i, data);
        }
        if matches!(self.cfg.tree, Tree::Owner | Tree::Parent) {
            self.ns_line.insert(ns.ino, line);
        } else if let Some(pid) = pid {
            self.proc_line.insert(pid, line);
        }
    }

    /// fill_column()
    fn fill(&mut self, ns: &NsInfo, pid: Option<i32>, col: Col) -> String {
        match col {
            Col::Ns => ns.ino.to_string(),
            Col::Type => ns.kind.name().into(),
            Col::Path => match pid {
                Some(pid) => format!("/proc/{pid}/ns/{}", ns.kind.name()),
                // nsls: where lsns leaves it empty, a path nsjoin can open.
                None => ns
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            },
            Col::Nprocs => ns.nprocs.to_string(),
            Col::Pid => pid.map(|p| p.to_string()).unwrap_or_default(),
            Col::Ppid => pid
                .map(|p| self.procs.ppid(p).to_string())
                .unwrap_or_default(),
            Col::Command => pid.and_then(procs::command).unwrap_or_default(),
            Col::Uid => self.uid(ns, pid).to_string(),
            Col::User => {
                let uid = self.uid(ns, pid);
                self.procs.user(uid)
            }
            Col::Netnsid => ns.netnsid.map(|n| n.to_string()).unwrap_or_default(),
            Col::Nsfs => {
                let sep = if self.no_wrap { "," } else { "\n" };
                ns.mounts
                    .iter()
                    .map(|m| m.display().to_string())
                    .collect::<Vec<_>>()
                    .join(sep)
            }
            Col::Pns => ns.parent.unwrap_or(0).to_string(),
            Col::Ons => ns.owner.unwrap_or(0).to_string(),
            Col::Container => match pid {
                Some(p) if Some(p) == ns.pid => ns
                    .container
                    .as_ref()
                    .map(|c| c.target())
                    .unwrap_or_default(),
                Some(p) => self.procs.container(p).unwrap_or_default(),
                None => String::new(),
            },
        }
    }

    /// The UID of the row's process, else of the user namespace's creator (lsns'
    /// uid_fallback, 0 for other kinds).
    fn uid(&mut self, ns: &NsInfo, pid: Option<i32>) -> u32 {
        match pid {
            Some(pid) => self.procs.uid(pid),
            None => ns.owner_uid.unwrap_or(0),
        }
    }
}

//! Lineage: the DAG of versions and runs. A run *uses* versions (inputs) and *logs* versions
//! (outputs); edges point the way data flows: `version → run` (used) and `run → version`
//! (logged). Walking up from a version finds what it was made from, walking down finds what
//! was made from it. Everything here is pure: the walk asks a callback for neighbours, and
//! the renderers turn a [`Lineage`] into text, DOT or Mermaid.

use super::RunStatus;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::str::FromStr;

/// Which way to walk from the starting node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Towards inputs: the run that logged a version, the versions a run used, and so on.
    Up,
    /// Towards outputs: the runs that used a version, the versions a run logged, and so on.
    Down,
    /// Both ways.
    #[default]
    Both,
}

impl Direction {
    fn steps(self) -> &'static [Step] {
        match self {
            Direction::Up => &[Step::Up],
            Direction::Down => &[Step::Down],
            Direction::Both => &[Step::Up, Step::Down],
        }
    }
}

/// One step of a walk: to a node's inputs or to its outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// To the nodes with an edge into this one.
    Up,
    /// To the nodes this one has an edge into.
    Down,
}

/// Where a node sits relative to the node the walk started from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The starting node.
    Root,
    /// An ancestor (reached walking up).
    Upstream,
    /// A descendant (reached walking down).
    Downstream,
}

/// The part of a graph a walk reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Walk<K> {
    /// Nodes in the order they were reached (the root first, then breadth first), each with
    /// its distance from the root in edges and its side.
    pub nodes: Vec<(K, u32, Side)>,
    /// Edges between reached nodes, as `(from, to)` in data-flow direction, in the order found.
    pub edges: Vec<(K, K)>,
}

/// Walks breadth first from `root`, up, down or both, at most `max_depth` edges away.
/// `neighbors(node, step)` gives a node's inputs (`Step::Up`) or outputs (`Step::Down`).
/// Each node is visited once, so the walk ends even on a graph with a cycle.
///
/// # Errors
/// Whatever `neighbors` returns.
pub fn walk<K: Ord + Clone, E>(
    root: K,
    direction: Direction,
    max_depth: Option<u32>,
    mut neighbors: impl FnMut(&K, Step) -> Result<Vec<K>, E>,
) -> Result<Walk<K>, E> {
    let mut seen: BTreeSet<K> = BTreeSet::from([root.clone()]);
    let mut edge_set: BTreeSet<(K, K)> = BTreeSet::new();
    let mut out = Walk {
        nodes: vec![(root.clone(), 0, Side::Root)],
        edges: Vec::new(),
    };
    for &step in direction.steps() {
        let side = match step {
            Step::Up => Side::Upstream,
            Step::Down => Side::Downstream,
        };
        let mut queue = VecDeque::from([(root.clone(), 0u32)]);
        while let Some((node, depth)) = queue.pop_front() {
            if max_depth.is_some_and(|m| depth >= m) {
                continue;
            }
            for next in neighbors(&node, step)? {
                let edge = match step {
                    Step::Up => (next.clone(), node.clone()),
                    Step::Down => (node.clone(), next.clone()),
                };
                if edge_set.insert(edge.clone()) {
                    out.edges.push(edge);
                }
                if seen.insert(next.clone()) {
                    out.nodes.push((next.clone(), depth + 1, side));
                    queue.push_back((next, depth + 1));
                }
            }
        }
    }
    Ok(out)
}

/// Whether `target` can be reached from `from` following edges down (outputs). Adding an
/// edge `target → from` would close a cycle exactly when this is true.
///
/// # Errors
/// Whatever `outputs` returns.
pub fn reaches<K: Ord + Clone, E>(
    from: &K,
    target: &K,
    mut outputs: impl FnMut(&K) -> Result<Vec<K>, E>,
) -> Result<bool, E> {
    let mut seen = BTreeSet::from([from.clone()]);
    let mut stack = vec![from.clone()];
    while let Some(node) = stack.pop() {
        if &node == target {
            return Ok(true);
        }
        for next in outputs(&node)? {
            if seen.insert(next.clone()) {
                stack.push(next);
            }
        }
    }
    Ok(false)
}

/// What a node of a [`Lineage`] is.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum NodeInfo {
    /// A version of an artifact.
    Version {
        /// The artifact.
        name: String,
        /// Its type.
        #[serde(rename = "type")]
        kind: String,
        /// N of `vN`.
        version: u64,
        /// Whether the version was deleted (the edge stays).
        deleted: bool,
        /// Its aliases, `latest` first.
        aliases: Vec<String>,
    },
    /// A run.
    Run {
        /// Its name, if given.
        name: Option<String>,
        /// Its group (sweep), if any.
        group: Option<String>,
        /// Its job type, if any.
        job_type: Option<String>,
        /// Running, ok or failed.
        status: RunStatus,
    },
}

/// A node: a version (`id` is `NAME:vN`) or a run (`id` is the run id).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LineageNode {
    /// `NAME:vN` or the run id.
    pub id: String,
    /// Edges from the root.
    pub depth: u32,
    /// Root, upstream or downstream.
    pub side: Side,
    /// Version or run details.
    #[serde(flatten)]
    pub info: NodeInfo,
}

impl LineageNode {
    fn is_run(&self) -> bool {
        matches!(self.info, NodeInfo::Run { .. })
    }

    fn deleted(&self) -> bool {
        matches!(self.info, NodeInfo::Version { deleted: true, .. })
    }

    /// Label lines for graph formats.
    fn label_lines(&self) -> Vec<String> {
        match &self.info {
            NodeInfo::Version {
                kind,
                aliases,
                deleted,
                ..
            } => {
                let mut lines = vec![self.id.clone(), kind.clone()];
                if !aliases.is_empty() {
                    lines.push(format!("[{}]", aliases.join(", ")));
                }
                if *deleted {
                    lines.push("(deleted)".into());
                }
                lines
            }
            NodeInfo::Run {
                name,
                group,
                job_type,
                status,
            } => {
                let mut lines = vec![format!("run {}", self.id)];
                if let Some(n) = name {
                    lines.push(n.clone());
                }
                let mut last: Vec<String> = Vec::new();
                if let Some(g) = group {
                    last.push(format!("group {g}"));
                }
                if let Some(j) = job_type {
                    last.push(format!("job {j}"));
                }
                last.push(status.to_string());
                lines.push(last.join(", "));
                lines
            }
        }
    }

    /// One-line label for the text tree.
    fn text_label(&self) -> String {
        match &self.info {
            NodeInfo::Version {
                kind,
                aliases,
                deleted,
                ..
            } => {
                let mut s = format!("{} ({kind})", self.id);
                if !aliases.is_empty() {
                    let _ = write!(s, " [{}]", aliases.join(", "));
                }
                if *deleted {
                    s.push_str(" deleted");
                }
                s
            }
            NodeInfo::Run {
                name,
                group,
                job_type,
                status,
            } => {
                let mut s = format!("run {}", self.id);
                if let Some(n) = name {
                    let _ = write!(s, " {}", one_line(n));
                }
                if let Some(g) = group {
                    let _ = write!(s, " group={}", one_line(g));
                }
                if let Some(j) = job_type {
                    let _ = write!(s, " job={}", one_line(j));
                }
                let _ = write!(s, " {status}");
                s
            }
        }
    }
}

/// How two nodes are linked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Relation {
    /// `version → run`: the run used (read) the version.
    Used,
    /// `run → version`: the run logged (wrote) the version.
    Logged,
    /// `version → version`: the version is linked into a collection as the second.
    Linked,
}

impl Relation {
    /// The edge label in every format.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Relation::Used => "used",
            Relation::Logged => "logged",
            Relation::Linked => "linked",
        }
    }
}

/// An edge, in data-flow direction.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LineageEdge {
    /// The input side: a version (used) or a run (logged).
    pub from: String,
    /// The output side.
    pub to: String,
    /// Used or logged.
    pub relation: Relation,
}

/// The lineage of one version or run, ready to print.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Lineage {
    /// The id of the starting node.
    pub root: String,
    /// The direction walked.
    pub direction: Direction,
    /// The depth limit, if any.
    pub depth: Option<u32>,
    /// Nodes, root first, then in the order the walk reached them.
    pub nodes: Vec<LineageNode>,
    /// Edges between them.
    pub edges: Vec<LineageEdge>,
}

/// A format `art lineage` prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LineageFormat {
    /// An indented tree.
    #[default]
    Text,
    /// The [`Lineage`] as JSON.
    Json,
    /// Graphviz DOT.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
}

impl FromStr for LineageFormat {
    type Err = super::Error;
    fn from_str(s: &str) -> super::Result<Self> {
        match s {
            "text" => Ok(LineageFormat::Text),
            "json" => Ok(LineageFormat::Json),
            "dot" => Ok(LineageFormat::Dot),
            "mermaid" => Ok(LineageFormat::Mermaid),
            _ => Err(super::Error::InvalidFormat(s.to_owned())),
        }
    }
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

impl Lineage {
    fn node(&self, id: &str) -> Option<&LineageNode> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// An indented tree from the root: upstream nodes under "logged by" and "used", then
    /// downstream nodes under "used by" and "logged". A node shown before is marked `(*)` and
    /// not expanded again.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut inputs: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut outputs: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for e in &self.edges {
            inputs.entry(&e.to).or_default().push(&e.from);
            outputs.entry(&e.from).or_default().push(&e.to);
        }
        let Some(root) = self.node(&self.root) else {
            return String::new();
        };
        let mut lines = vec![root.text_label()];
        let mut expanded = BTreeSet::from([root.id.as_str()]);
        let children = |node: &LineageNode| -> Vec<(Step, String)> {
            let mut out = Vec::new();
            if matches!(node.side, Side::Root | Side::Upstream) {
                for id in inputs.get(node.id.as_str()).into_iter().flatten() {
                    if self.node(id).is_some_and(|n| n.side != Side::Downstream) {
                        out.push((Step::Up, (*id).to_owned()));
                    }
                }
            }
            if matches!(node.side, Side::Root | Side::Downstream) {
                for id in outputs.get(node.id.as_str()).into_iter().flatten() {
                    if self.node(id).is_some_and(|n| n.side != Side::Upstream) {
                        out.push((Step::Down, (*id).to_owned()));
                    }
                }
            }
            out
        };
        // Depth-first with an explicit stack: (node id, step that reached it, whether its
        // parent is a version, prefix, last?).
        let mut stack: Vec<(String, Step, bool, String, bool)> = Vec::new();
        let push_children = |stack: &mut Vec<(String, Step, bool, String, bool)>,
                             kids: Vec<(Step, String)>,
                             parent: &LineageNode,
                             prefix: &str| {
            let n = kids.len();
            for (i, (step, id)) in kids.into_iter().enumerate().rev() {
                stack.push((id, step, !parent.is_run(), prefix.to_owned(), i + 1 == n));
            }
        };
        push_children(&mut stack, children(root), root, "");
        while let Some((id, step, from_version, prefix, last)) = stack.pop() {
            let Some(node) = self.node(&id) else { continue };
            // Version to version is a link into a collection.
            let relation = match (step, node.is_run(), from_version) {
                (Step::Up, true, _) => "logged by",
                (Step::Up, false, true) => "links",
                (Step::Up, false, false) => "used",
                (Step::Down, true, _) => "used by",
                (Step::Down, false, true) => "linked as",
                (Step::Down, false, false) => "logged",
            };
            let kids = children(node);
            let repeated = !expanded.insert(node.id.as_str());
            let mark = if repeated && !kids.is_empty() {
                " (*)"
            } else {
                ""
            };
            let connector = if last { "└── " } else { "├── " };
            lines.push(format!(
                "{prefix}{connector}{relation} {}{mark}",
                node.text_label()
            ));
            if !repeated {
                let child_prefix = format!("{prefix}{}", if last { "    " } else { "│   " });
                push_children(&mut stack, kids, node, &child_prefix);
            }
        }
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }

    /// Graphviz DOT: versions are boxes, runs ellipses, the root is drawn bold, deleted
    /// versions dashed and failed runs red; edges are labelled `used` or `logged`.
    #[must_use]
    pub fn to_dot(&self) -> String {
        fn escape(s: &str) -> String {
            let mut out = String::new();
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' | '\r' => out.push(' '),
                    c => out.push(c),
                }
            }
            out
        }
        fn quote(s: &str) -> String {
            format!("\"{}\"", escape(s))
        }
        let mut s = String::from(
            "digraph lineage {\n    rankdir=LR;\n    node [fontname=\"Helvetica\", fontsize=10];\n    edge [fontname=\"Helvetica\", fontsize=9];\n",
        );
        for n in &self.nodes {
            let label = n
                .label_lines()
                .iter()
                .map(|l| escape(l))
                .collect::<Vec<_>>()
                .join("\\n");
            let mut attrs = vec![
                format!("shape={}", if n.is_run() { "ellipse" } else { "box" }),
                format!("label=\"{label}\""),
            ];
            if n.side == Side::Root {
                attrs.push("penwidth=2".into());
            }
            if n.deleted() {
                attrs.push("style=dashed, color=gray50, fontcolor=gray50".into());
            }
            if let NodeInfo::Run {
                status: RunStatus::Failed,
                ..
            } = n.info
            {
                attrs.push("color=red3".into());
            }
            let _ = writeln!(s, "    {} [{}];", quote(&n.id), attrs.join(", "));
        }
        for e in &self.edges {
            let relation = e.relation.label();
            let _ = writeln!(
                s,
                "    {} -> {} [label=\"{relation}\"];",
                quote(&e.from),
                quote(&e.to)
            );
        }
        s.push_str("}\n");
        s
    }

    /// A Mermaid flowchart (left to right): versions are rectangles, runs stadiums; the
    /// root gets class `root`, deleted versions class `deleted`, failed runs class `failed`.
    #[must_use]
    pub fn to_mermaid(&self) -> String {
        fn escape(s: &str) -> String {
            let mut out = String::new();
            for c in s.chars() {
                match c {
                    '#' => out.push_str("#35;"),
                    '"' => out.push_str("#quot;"),
                    '<' => out.push_str("#lt;"),
                    '>' => out.push_str("#gt;"),
                    '\n' | '\r' => out.push(' '),
                    c => out.push(c),
                }
            }
            out
        }
        let ids: BTreeMap<&str, String> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.as_str(), format!("n{i}")))
            .collect();
        let mut s = String::from("flowchart LR\n");
        let mut classes: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for n in &self.nodes {
            let id = &ids[n.id.as_str()];
            let label = n
                .label_lines()
                .iter()
                .map(|l| escape(l))
                .collect::<Vec<_>>()
                .join("<br/>");
            if n.is_run() {
                let _ = writeln!(s, "    {id}([\"{label}\"])");
            } else {
                let _ = writeln!(s, "    {id}[\"{label}\"]");
            }
            if n.side == Side::Root {
                classes.entry("root").or_default().push(id);
            }
            if n.deleted() {
                classes.entry("deleted").or_default().push(id);
            }
            if let NodeInfo::Run {
                status: RunStatus::Failed,
                ..
            } = n.info
            {
                classes.entry("failed").or_default().push(id);
            }
        }
        for e in &self.edges {
            let (Some(from), Some(to)) = (ids.get(e.from.as_str()), ids.get(e.to.as_str())) else {
                continue;
            };
            let relation = e.relation.label();
            let _ = writeln!(s, "    {from} -->|{relation}| {to}");
        }
        let styles = [
            ("root", "stroke-width:3px"),
            ("deleted", "stroke-dasharray:5 5,color:#888"),
            ("failed", "stroke:#c00"),
        ];
        for (class, style) in styles {
            if let Some(members) = classes.get(class) {
                let _ = writeln!(s, "    classDef {class} {style}");
                let _ = writeln!(s, "    class {} {class}", members.join(","));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A little graph: d0 → r1 → m1 → r2 → m2, d0 → r2, r3 → x (unrelated).
    fn graph() -> Vec<(&'static str, &'static str)> {
        vec![
            ("d0", "r1"),
            ("r1", "m1"),
            ("m1", "r2"),
            ("d0", "r2"),
            ("r2", "m2"),
            ("r3", "x"),
        ]
    }

    fn neighbors<'a>(
        edges: &'a [(&'static str, &'static str)],
    ) -> impl FnMut(&&'static str, Step) -> Result<Vec<&'static str>, ()> + 'a {
        move |n, step| {
            Ok(edges
                .iter()
                .filter_map(|&(a, b)| match step {
                    Step::Up if b == *n => Some(a),
                    Step::Down if a == *n => Some(b),
                    _ => None,
                })
                .collect())
        }
    }

    #[test]
    fn walks_up_down_and_both() {
        let g = graph();
        let up = walk("m2", Direction::Up, None, neighbors(&g)).unwrap();
        let names: Vec<_> = up.nodes.iter().map(|n| (n.0, n.1)).collect();
        assert_eq!(
            names,
            [("m2", 0), ("r2", 1), ("m1", 2), ("d0", 2), ("r1", 3)]
        );
        assert!(up.nodes[1..].iter().all(|n| n.2 == Side::Upstream));
        // d0 is reached twice (through r2 and through r1): one node, both edges.
        assert_eq!(up.edges.len(), 5);
        assert!(up.edges.contains(&("d0", "r1")));
        assert!(up.edges.contains(&("d0", "r2")));

        let down = walk("d0", Direction::Down, None, neighbors(&g)).unwrap();
        let names: Vec<_> = down.nodes.iter().map(|n| n.0).collect();
        assert_eq!(names, ["d0", "r1", "r2", "m1", "m2"]);
        assert!(!names.contains(&"x"));

        let both = walk("m1", Direction::Both, None, neighbors(&g)).unwrap();
        let sides: BTreeMap<_, _> = both.nodes.iter().map(|n| (n.0, n.2)).collect();
        assert_eq!(sides["m1"], Side::Root);
        assert_eq!(sides["r1"], Side::Upstream);
        assert_eq!(sides["d0"], Side::Upstream);
        assert_eq!(sides["r2"], Side::Downstream);
        assert_eq!(sides["m2"], Side::Downstream);
        assert_eq!(sides.len(), 5);
    }

    #[test]
    fn depth_limits_the_walk() {
        let g = graph();
        let w = walk("m2", Direction::Up, Some(1), neighbors(&g)).unwrap();
        assert_eq!(
            w.nodes.iter().map(|n| n.0).collect::<Vec<_>>(),
            ["m2", "r2"]
        );
        assert_eq!(w.edges, [("r2", "m2")]);
        let w = walk("m2", Direction::Up, Some(0), neighbors(&g)).unwrap();
        assert_eq!(w.nodes.len(), 1);
        assert!(w.edges.is_empty());
    }

    #[test]
    fn a_cycle_does_not_loop_and_is_detected() {
        let mut g = graph();
        assert!(reaches(&"r1", &"m2", |n| neighbors(&g)(n, Step::Down)).unwrap());
        assert!(!reaches(&"r2", &"m1", |n| neighbors(&g)(n, Step::Down)).unwrap());
        assert!(!reaches(&"x", &"d0", |n| neighbors(&g)(n, Step::Down)).unwrap());
        // r1 using m2 would close r1 → m1 → r2 → m2 → r1.
        g.push(("m2", "r1"));
        let w = walk("d0", Direction::Down, None, neighbors(&g)).unwrap();
        assert_eq!(w.nodes.len(), 5);
    }

    fn version(id: &str, depth: u32, side: Side, deleted: bool, aliases: &[&str]) -> LineageNode {
        let (name, v) = id.split_once(":v").unwrap();
        LineageNode {
            id: id.into(),
            depth,
            side,
            info: NodeInfo::Version {
                name: name.into(),
                kind: if name == "model" { "model" } else { "dataset" }.into(),
                version: v.parse().unwrap(),
                deleted,
                aliases: aliases.iter().map(|s| (*s).to_owned()).collect(),
            },
        }
    }

    fn run(id: &str, depth: u32, side: Side, name: &str, status: RunStatus) -> LineageNode {
        LineageNode {
            id: id.into(),
            depth,
            side,
            info: NodeInfo::Run {
                name: Some(name.into()),
                group: Some("sweep".into()),
                job_type: None,
                status,
            },
        }
    }

    fn edge(from: &str, to: &str) -> LineageEdge {
        LineageEdge {
            from: from.into(),
            to: to.into(),
            relation: if from.contains(':') {
                Relation::Used
            } else {
                Relation::Logged
            },
        }
    }

    /// data:v0 → R1 → model:v0, data:v0 → R2 → model:v1 and data:v1 (deleted) → R2.
    fn sample() -> Lineage {
        Lineage {
            root: "data:v0".into(),
            direction: Direction::Down,
            depth: None,
            nodes: vec![
                version("data:v0", 0, Side::Root, false, &["raw"]),
                run(
                    "R1",
                    1,
                    Side::Downstream,
                    "a \"quoted\" <name>",
                    RunStatus::Ok,
                ),
                run("R2", 1, Side::Downstream, "b", RunStatus::Failed),
                version("model:v0", 2, Side::Downstream, false, &[]),
                version("model:v1", 2, Side::Downstream, true, &["latest"]),
            ],
            edges: vec![
                edge("data:v0", "R1"),
                edge("data:v0", "R2"),
                edge("R1", "model:v0"),
                edge("R2", "model:v1"),
            ],
        }
    }

    #[test]
    fn text_tree() {
        assert_eq!(
            sample().to_text(),
            "data:v0 (dataset) [raw]\n\
             ├── used by run R1 a \"quoted\" <name> group=sweep ok\n\
             │   └── logged model:v0 (model)\n\
             └── used by run R2 b group=sweep failed\n    \
                 └── logged model:v1 (model) [latest] deleted\n"
        );
        // Upstream: the relations read the other way.
        let mut l = sample();
        l.root = "model:v0".into();
        l.direction = Direction::Up;
        l.nodes = vec![
            version("model:v0", 0, Side::Root, false, &[]),
            run("R1", 1, Side::Upstream, "a", RunStatus::Ok),
            version("data:v0", 2, Side::Upstream, false, &[]),
        ];
        l.edges = vec![edge("R1", "model:v0"), edge("data:v0", "R1")];
        assert_eq!(
            l.to_text(),
            "model:v0 (model)\n\
             └── logged by run R1 a group=sweep ok\n    \
                 └── used data:v0 (dataset)\n"
        );
    }

    #[test]
    fn text_marks_repeated_nodes() {
        // d → r1 → m → r2, and d → r2: r2 appears twice, expanded once.
        let l = Lineage {
            root: "d:v0".into(),
            direction: Direction::Down,
            depth: None,
            nodes: vec![
                version("d:v0", 0, Side::Root, false, &[]),
                run("R1", 1, Side::Downstream, "one", RunStatus::Ok),
                run("R2", 1, Side::Downstream, "two", RunStatus::Ok),
                version("model:v0", 2, Side::Downstream, false, &[]),
                version("model:v1", 2, Side::Downstream, false, &[]),
            ],
            edges: vec![
                edge("d:v0", "R1"),
                edge("d:v0", "R2"),
                edge("R1", "model:v0"),
                edge("model:v0", "R2"),
                edge("R2", "model:v1"),
            ],
        };
        let text = l.to_text();
        assert_eq!(text.matches("run R2").count(), 2, "{text}");
        assert_eq!(text.matches("(*)").count(), 1, "{text}");
        assert_eq!(text.matches("logged model:v1").count(), 1, "{text}");
    }

    #[test]
    fn dot_quotes_and_styles() {
        let dot = sample().to_dot();
        assert!(dot.starts_with("digraph lineage {\n"), "{dot}");
        assert!(dot.ends_with("}\n"));
        assert!(
            dot.contains(
                r#""R1" [shape=ellipse, label="run R1\na \"quoted\" <name>\ngroup sweep, ok"];"#
            ),
            "{dot}"
        );
        assert!(
            dot.contains(r#""data:v0" [shape=box, label="data:v0\ndataset\n[raw]", penwidth=2];"#),
            "{dot}"
        );
        assert!(dot.contains("style=dashed"), "{dot}");
        assert!(dot.contains("color=red3"), "{dot}");
        assert!(
            dot.contains(r#""data:v0" -> "R1" [label="used"];"#),
            "{dot}"
        );
        assert!(
            dot.contains(r#""R2" -> "model:v1" [label="logged"];"#),
            "{dot}"
        );
    }

    #[test]
    fn mermaid_escapes_and_classes() {
        let m = sample().to_mermaid();
        assert!(m.starts_with("flowchart LR\n"), "{m}");
        assert!(
            m.contains(
                "n1([\"run R1<br/>a #quot;quoted#quot; #lt;name#gt;<br/>group sweep, ok\"])"
            ),
            "{m}"
        );
        assert!(m.contains("n0[\"data:v0<br/>dataset<br/>[raw]\"]"), "{m}");
        assert!(m.contains("n0 -->|used| n1"), "{m}");
        assert!(m.contains("class n0 root"), "{m}");
        assert!(m.contains("class n4 deleted"), "{m}");
        assert!(m.contains("class n2 failed"), "{m}");
    }

    #[test]
    fn json_shape() {
        let v = serde_json::to_value(sample()).unwrap();
        assert_eq!(v["root"], "data:v0");
        assert_eq!(v["direction"], "down");
        assert_eq!(v["nodes"][0]["kind"], "version");
        assert_eq!(v["nodes"][0]["type"], "dataset");
        assert_eq!(v["nodes"][0]["side"], "root");
        assert_eq!(v["nodes"][1]["kind"], "run");
        assert_eq!(v["nodes"][1]["status"], "ok");
        assert_eq!(v["nodes"][4]["deleted"], true);
        assert_eq!(v["edges"][0]["relation"], "used");
        assert_eq!(v["edges"][2]["relation"], "logged");
    }

    #[test]
    fn formats_parse() {
        assert_eq!("dot".parse::<LineageFormat>().unwrap(), LineageFormat::Dot);
        assert!("svg".parse::<LineageFormat>().is_err());
    }
}

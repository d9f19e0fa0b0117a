//! `art lineage`: the DAG of versions and runs in text, JSON, DOT and Mermaid.

use crate::runs::sweep;
use crate::util::{Env, run_settings};
use serde_json::json;
use std::io::Write as _;
use std::process::{Command, Stdio};

/// Renders DOT with Graphviz; panics with its complaint when the text does not parse.
fn assert_dot_parses(dot: &str) {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(
            "Graphviz `dot` must be installed to test DOT output (scripts/test.sh installs it)",
        );
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(dot.as_bytes())
        .expect("write DOT");
    let out = child.wait_with_output().expect("run dot");
    assert!(
        out.status.success(),
        "dot rejected the output:\n{}\n--- input ---\n{dot}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("<svg"));
}

#[test]
fn best_model_lineage_in_every_format() {
    let env = Env::new();
    let ids = sweep(&env);
    let best = env.json(&["runs", "best", "--group", "sweep1", "--metric", "acc"]);
    let model = best["run"]["logged"][0].as_str().unwrap().to_owned();
    env.ok(&["alias", "set", &model, "best"]);

    // dataset → run → model, read upwards from the model.
    let text = env.ok(&["lineage", "model:best", "--up"]);
    assert_eq!(
        text,
        format!(
            "model:v1 (model) [best]\n\
             └── logged by run {} trial-1 group=sweep1 job=train ok\n    \
                 └── used dataset:v0 (dataset) [latest]\n",
            ids[1]
        )
    );
    let json = env.ok(&["lineage", "model:best", "--up", "--format", "json"]);
    let dot = env.ok(&["lineage", "model:best", "--up", "--format", "dot"]);
    let mermaid = env.ok(&["lineage", "model:best", "--up", "--format", "mermaid"]);
    run_settings(&env).bind(|| {
        insta::assert_snapshot!("lineage_up_text", text);
        insta::assert_snapshot!("lineage_up_json", json);
        insta::assert_snapshot!("lineage_up_dot", dot);
        insta::assert_snapshot!("lineage_up_mermaid", mermaid);
    });
    assert_dot_parses(&dot);
    // --json is the JSON format.
    let v = env.json(&["lineage", "model:best", "--up"]);
    assert_eq!(v, serde_json::from_str::<serde_json::Value>(&json).unwrap());
    assert_eq!(v["root"], "model:v1");
    assert_eq!(
        v["edges"],
        json!([
            {"from": ids[1], "to": "model:v1", "relation": "logged"},
            {"from": "dataset:v0", "to": ids[1], "relation": "used"},
        ])
    );

    // Down from the dataset: all five runs and their models.
    let down = env.json(&["lineage", "dataset", "--down"]);
    let nodes = down["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 11);
    assert_eq!(nodes.iter().filter(|n| n["kind"] == "run").count(), 5);
    assert!(nodes.iter().all(|n| n["side"] != "upstream"));
    let dot = env.ok(&["lineage", "dataset", "--down", "--format", "dot"]);
    assert_dot_parses(&dot);
    // Depth 1: only the runs.
    let shallow = env.json(&["lineage", "dataset", "--depth", "1"]);
    assert_eq!(shallow["nodes"].as_array().unwrap().len(), 6);
    assert_eq!(shallow["edges"].as_array().unwrap().len(), 5);
    // From a run, both ways (the default): its input and its output.
    let from_run = env.ok(&["lineage", &ids[3]]);
    assert_eq!(
        from_run,
        format!(
            "run {} trial-3 group=sweep1 job=train ok\n\
             ├── used dataset:v0 (dataset) [latest]\n\
             └── logged model:v3 (model)\n",
            ids[3]
        )
    );
}

#[test]
fn deleted_versions_and_long_chains() {
    let env = Env::init();
    env.write("raw/a.csv", "1\n");
    env.ok(&["log", "raw", "raw", "-t", "dataset"]);
    // prep: raw:v0 → clean:v0; train: clean:v0 → model:v0, then model:v1 (deleted later).
    let prep = env.ok(&[
        "run",
        "start",
        "--name",
        "prep \"quoted\" \\ name",
        "--job-type",
        "prep",
    ]);
    let prep = prep.trim();
    env.ok(&["use", "raw", "--run", prep]);
    env.write("clean/a.csv", "1\n");
    env.ok(&["log", "clean", "clean", "-t", "dataset", "--run", prep]);
    env.ok(&["run", "finish", prep]);
    let train = env.ok(&["run", "start", "--name", "train", "--group", "g"]);
    let train = train.trim();
    env.ok(&["use", "clean", "--run", train]);
    env.write("m/w", "0");
    env.ok(&["log", "model", "m", "-t", "model", "--run", train]);
    env.write("m/w", "1");
    env.ok(&["log", "model", "m", "--run", train]);
    env.ok(&["run", "finish", train, "--status", "failed"]);
    env.write("m/w", "2");
    env.ok(&["log", "model", "m"]);
    env.ok(&["rm", "model:v1"]);

    let text = env.ok(&["lineage", "raw", "--down"]);
    run_settings(&env).bind(|| insta::assert_snapshot!("lineage_down_text", text));
    assert!(text.contains("logged model:v1 (model) deleted"), "{text}");
    let dot = env.ok(&["lineage", "raw", "--down", "--format", "dot"]);
    let mermaid = env.ok(&["lineage", "raw", "--down", "--format", "mermaid"]);
    run_settings(&env).bind(|| {
        insta::assert_snapshot!("lineage_down_dot", dot);
        insta::assert_snapshot!("lineage_down_mermaid", mermaid);
    });
    assert_dot_parses(&dot);
    assert!(dot.contains(r#"prep \"quoted\" \\ name"#), "{dot}");
    assert!(
        mermaid.contains("prep #quot;quoted#quot; \\ name"),
        "{mermaid}"
    );

    // A deleted version still has its lineage.
    let v = env.json(&["lineage", "model:v1", "--up"]);
    assert_eq!(v["nodes"][0]["deleted"], true);
    assert_eq!(
        v["nodes"].as_array().unwrap().len(),
        5,
        "model:v1 ← train ← clean ← prep ← raw"
    );
    // Depth counts edges: 2 up from model:v0 reaches clean:v0, not prep.
    let v = env.json(&["lineage", "model:v0", "--up", "--depth", "2"]);
    let ids: Vec<&str> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["model:v0", train, "clean:v0"]);
    // model:v2 was logged by no run: it stands alone.
    assert_eq!(env.ok(&["lineage", "model"]), "model:v2 (model) [latest]\n");
    // --up and --down together are a usage error.
    let out = env
        .art()
        .args(["lineage", "raw", "--up", "--down"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // -q prints nothing.
    assert_eq!(env.ok(&["-q", "lineage", "raw"]), "");
}

#[test]
fn unknown_lineage_targets() {
    let env = Env::init();
    let err = env.fails(&["lineage", "nothing"], 1);
    assert!(
        err.contains("no artifact or run named `nothing`; list them with `art ls` and `art runs`"),
        "{err}"
    );
    let err = env.fails(&["lineage", "01ARZ3NDEKTSV4RRFFQ69G5FAV"], 1);
    assert!(err.contains("no artifact or run named"), "{err}");
    env.write("d/a", "a");
    env.ok(&["log", "d", "d"]);
    let err = env.fails(&["lineage", "d:v7"], 1);
    assert!(err.contains("`d:v7` does not exist"), "{err}");
    let err = env.fails(&["lineage", "d", "--format", "svg"], 2);
    assert!(err.contains("invalid format `svg`"), "{err}");
}

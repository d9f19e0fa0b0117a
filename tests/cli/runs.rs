//! Runs: `art run start|finish|resume|show|summary|exec`, `art use`, `art runs [best]`,
//! `art versions --run`, and `art log --run` validation.

use crate::util::{Env, path_with_art, run_settings, succeeded};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Runs art without asserting the outcome: (exit code, stdout, stderr).
fn run(env: &Env, args: &[&str]) -> (i32, String, String) {
    let out = env.art().args(args).output().expect("run art");
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8(out.stderr).expect("utf-8 stderr"),
    )
}

/// Starts a run; returns its id.
fn start(env: &Env, args: &[&str]) -> String {
    let mut full = vec!["run", "start"];
    full.extend_from_slice(args);
    let id = env.ok(&full).trim().to_owned();
    assert_eq!(id.len(), 26, "a ULID: {id}");
    id
}

/// The training script of the sweep: uses the dataset, logs a model whose content depends on
/// `$ACC`, and reports `$ACC` through `$ART_SUMMARY`.
const TRAIN: &str = r#"set -e
art use dataset
mkdir -p out
echo "weights for acc $ACC" > out/weights.bin
art log model out -t model -m "acc $ACC"
printf '{"acc": %s, "epochs": 3}\n' "$ACC" > "$ART_SUMMARY"
"#;

/// The accuracies of the sweep's five runs; the second is best.
pub const SWEEP_ACC: [f64; 5] = [0.71, 0.93, 0.64, 0.88, 0.79];

/// A store with `dataset:v0` and a sweep `sweep1` of five `art run exec` runs of `train.sh`,
/// each logging one `model` version; returns the run ids in order.
pub fn sweep(env: &Env) -> Vec<String> {
    env.ok(&["init"]);
    env.write("data/train.csv", "x,y\n1,2\n3,4\n");
    env.ok(&["log", "dataset", "data", "-t", "dataset"]);
    env.write("train.sh", TRAIN);
    for (i, acc) in SWEEP_ACC.iter().enumerate() {
        let out = env
            .art()
            .env("PATH", path_with_art())
            .env("ACC", acc.to_string())
            .args([
                "run",
                "exec",
                "--group",
                "sweep1",
                "--job-type",
                "train",
                "--name",
                &format!("trial-{i}"),
                "--config",
                &format!("lr=0.0{}", i + 1),
                "--",
                "sh",
                "train.sh",
            ])
            .output()
            .expect("run art");
        assert!(
            out.status.success(),
            "trial {i}: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let runs = env.json(&["runs", "--group", "sweep1"]);
    runs.as_array()
        .expect("a list")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}

#[test]
fn start_show_finish_resume() {
    let env = Env::init();
    env.write("cfg.json", r#"{"batch": 32, "lr": 0.5}"#);
    let id = start(
        &env,
        &[
            "--name",
            "baseline",
            "--group",
            "g1",
            "--job-type",
            "train",
            "--config",
            "@cfg.json",
            "--config",
            "lr=0.01",
            "--config",
            "optimizer=adam",
        ],
    );
    let show = env.json(&["run", "show", &id]);
    assert_eq!(show["id"], id.as_str());
    assert_eq!(show["name"], "baseline");
    assert_eq!(show["group"], "g1");
    assert_eq!(show["job_type"], "train");
    assert_eq!(show["status"], "running");
    assert_eq!(
        show["config"],
        json!({"batch": 32, "lr": 0.01, "optimizer": "adam"}),
        "later --config wins; text stays text"
    );
    assert_eq!(show["finished_at"], Value::Null);
    assert!(show["started_at"].as_i64().unwrap() > 0);

    let out = env.ok(&[
        "run",
        "finish",
        &id,
        "--summary",
        "acc=0.9",
        "--summary",
        r#"best={"epoch": 3}"#,
        "--summary",
        r#"note="fine""#,
    ]);
    assert_eq!(
        out,
        format!("{id}: ok  acc=0.9 best={{\"epoch\":3}} note=\"fine\"\n")
    );
    let show = env.json(&["run", "show", &id]);
    assert_eq!(show["status"], "ok");
    assert_eq!(
        show["summary"],
        json!({"acc": 0.9, "best": {"epoch": 3}, "note": "fine"})
    );
    assert!(show["finished_at"].as_i64() >= show["started_at"].as_i64());
    let text = env.ok(&["run", "show", &id]);
    let mut settings = run_settings(&env);
    settings.add_filter(r"\(\d+s\)", "([seconds])");
    settings.bind(|| insta::assert_snapshot!("runs_show", text));

    // Finishing twice is an error that says how to reopen.
    let err = env.fails(&["run", "finish", &id], 1);
    assert!(
        err.contains(&format!(
            "cannot finish run `{id}`: it is already finished (ok); reopen it with `art run resume {id}`"
        )),
        "{err}"
    );
    // Resume reopens (and prints the id); a running run stays as it is.
    assert_eq!(env.ok(&["run", "resume", &id]), format!("{id}\n"));
    assert_eq!(env.ok(&["run", "resume", &id]), format!("{id}\n"));
    let show = env.json(&["run", "show", &id]);
    assert_eq!(show["status"], "running");
    assert_eq!(show["finished_at"], Value::Null);
    assert_eq!(show["summary"]["acc"], 0.9, "the summary is kept");
    env.ok(&[
        "run",
        "finish",
        &id,
        "--status",
        "failed",
        "--summary",
        "acc=0.1",
    ]);
    let show = env.json(&["run", "show", &id]);
    assert_eq!(show["status"], "failed");
    assert_eq!(show["summary"]["acc"], 0.1);
    let (code, _, err) = run(&env, &["run", "finish", &id, "--status", "running"]);
    assert_eq!(code, 2);
    assert!(err.contains("ok or failed"), "{err}");
}

#[test]
fn run_ids_are_time_ordered_and_accept_prefixes() {
    let env = Env::init();
    let a = start(&env, &[]);
    std::thread::sleep(Duration::from_millis(2));
    let b = start(&env, &[]);
    assert!(a < b, "{a} < {b}");
    // Lowercase and unambiguous prefixes name a run.
    assert_eq!(
        env.json(&["run", "show", &a.to_lowercase()])["id"],
        a.as_str()
    );
    let unique = (4..=26).find(|&n| a[..n] != b[..n]).expect("ids differ");
    assert_eq!(env.json(&["run", "show", &b[..unique]])["id"], b.as_str());
    // Both runs started within the same days share their first characters.
    let err = env.fails(&["run", "show", &a[..4]], 1);
    assert!(err.contains("is ambiguous: it matches"), "{err}");
    assert!(
        err.contains(&format!("`{a}`")) && err.contains(&format!("`{b}`")),
        "{err}"
    );
}

#[test]
fn unknown_runs_say_where_to_look() {
    let env = Env::init();
    env.write("d/a.txt", "a");
    let before = env.store_snapshot();
    for args in [
        &["run", "show", "nosuch"][..],
        &["run", "finish", "nosuch"],
        &["run", "resume", "nosuch"],
        &["run", "summary", "acc=1", "--run", "nosuch"],
        &["log", "d", "d", "--run", "nosuch"],
    ] {
        let (code, _, err) = run(&env, args);
        assert_eq!(code, 1, "{args:?}");
        assert!(
            err.contains("no run `nosuch`; list runs with `art runs`"),
            "{args:?}: {err}"
        );
    }
    // The log was refused before anything was written.
    assert_eq!(env.store_snapshot(), before);
    assert_eq!(env.json(&["ls"]), json!([]));
    // Without a run at all.
    let err = env.fails(&["run", "finish"], 1);
    assert!(err.contains("no run to finish: give RUN"), "{err}");
    assert!(err.contains("ART_RUN"), "{err}");
    env.ok(&["log", "d", "d"]);
    let err = env.fails(&["versions", "d", "--run", "nosuch"], 1);
    assert!(
        err.contains("no run `nosuch`; list runs with `art runs`"),
        "{err}"
    );
    let err = env.fails(&["use", "d"], 1);
    assert!(err.contains("no run to record a use in"), "{err}");
    let err = env.fails(&["use", "d", "--run", "nosuch"], 1);
    assert!(err.contains("no run `nosuch`"), "{err}");
}

#[test]
fn log_to_a_finished_run_is_refused() {
    let env = Env::init();
    env.write("d/a.txt", "a");
    let id = start(&env, &[]);
    env.ok(&["run", "finish", &id]);
    let before = env.store_snapshot();
    let err = env.fails(&["log", "d", "d", "--run", &id], 1);
    assert!(
        err.contains(&format!(
            "cannot log to run `{id}`: it is already finished (ok)"
        )),
        "{err}"
    );
    assert_eq!(env.store_snapshot(), before, "no pack was written");
    assert_eq!(env.json(&["ls"]), json!([]));
    // ART_RUN is checked the same way.
    let out = env
        .art()
        .env("ART_RUN", &id)
        .args(["log", "d", "d"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // Reopened, it takes versions again.
    env.ok(&["run", "resume", &id]);
    env.ok(&["log", "d", "d", "--run", &id[..12]]);
    assert_eq!(
        env.json(&["show", "d"])["logged_by_run"],
        id.as_str(),
        "prefix expanded"
    );
    assert_eq!(env.json(&["run", "show", &id])["logged"], json!(["d:v0"]));
}

#[test]
fn summary_values_must_be_numbers_or_json() {
    let env = Env::init();
    let id = start(&env, &[]);
    let (code, _, err) = run(&env, &["run", "finish", &id, "--summary", "acc=high"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("summary value `high` for `acc` is not a number or JSON"),
        "{err}"
    );
    assert!(
        err.contains(r#"acc='"high"'"#),
        "says how to write text: {err}"
    );
    let (code, _, err) = run(
        &env,
        &["run", "summary", "--run", &id, "loss=1e-3", "f1=0.8x"],
    );
    assert_eq!(code, 2);
    assert!(err.contains("`0.8x` for `f1`"), "{err}");
    let (code, _, err) = run(&env, &["run", "summary", "--run", &id, "acc"]);
    assert_eq!(code, 2);
    assert!(err.contains("expected KEY=VALUE, got `acc`"), "{err}");
    // Nothing was stored by the refused commands.
    assert_eq!(env.json(&["run", "show", &id])["summary"], json!({}));
    assert_eq!(env.json(&["run", "show", &id])["status"], "running");

    // `run summary` takes the run from ART_RUN and merges.
    for pairs in [["acc=0.5", "loss=2"], ["acc=0.75", "tags=[\"a\"]"]] {
        succeeded(
            env.art()
                .env("ART_RUN", &id)
                .args(["run", "summary"])
                .args(pairs)
                .output()
                .unwrap(),
        );
    }
    assert_eq!(
        env.json(&["run", "show", &id])["summary"],
        json!({"acc": 0.75, "loss": 2, "tags": ["a"]})
    );
    // Finished runs accept metrics computed afterwards.
    env.ok(&["run", "finish", &id]);
    env.ok(&["run", "summary", "--run", &id, "test_acc=0.7"]);
    assert_eq!(env.json(&["run", "show", &id])["summary"]["test_acc"], 0.7);
}

#[test]
fn use_records_inputs_and_checks_out() {
    let env = Env::init();
    env.write("data/a.csv", "1\n");
    env.ok(&["log", "dataset", "data", "-t", "dataset"]);
    let id = start(&env, &["--name", "train"]);
    let out = env.ok(&["use", "dataset", "--run", &id, "--checkout", "work"]);
    assert_eq!(
        out.lines().next().unwrap(),
        format!("run {id} used dataset:v0")
    );
    assert_eq!(env.read_tree("work")["a.csv"], b"1\n");
    // Twice is once.
    let again = env.json(&["use", "dataset:v0", "--run", &id]);
    assert_eq!(again["recorded"], false);
    assert_eq!(again["reference"], "dataset:v0");
    assert_eq!(again["checkout"], Value::Null);
    assert_eq!(
        env.json(&["run", "show", &id])["used"],
        json!(["dataset:v0"])
    );

    // A run cannot use what it logged.
    env.write("out/m.bin", "m");
    env.ok(&["log", "model", "out", "--run", &id]);
    let err = env.fails(&["use", "model", "--run", &id], 1);
    assert!(
        err.contains(&format!(
            "run `{id}` cannot use `model:v0`: it logged that version"
        )),
        "{err}"
    );
    // Nor what was made from its outputs: id → model:v0 → other → report:v0.
    let other = start(&env, &[]);
    env.ok(&["use", "model", "--run", &other]);
    env.write("rep/r.txt", "r");
    env.ok(&["log", "report", "rep", "--run", &other]);
    let err = env.fails(&["use", "report", "--run", &id], 1);
    assert!(
        err.contains("cannot use `report:v0`: that version was made from this run's outputs"),
        "{err}"
    );
    assert_eq!(
        env.json(&["run", "show", &id])["used"],
        json!(["dataset:v0"])
    );
    // A finished run takes no inputs; a checkout refused records nothing.
    env.ok(&["run", "finish", &other]);
    let err = env.fails(&["use", "dataset", "--run", &other], 1);
    assert!(err.contains("cannot use versions in run"), "{err}");
    let third = start(&env, &[]);
    env.write("work/a.csv", "changed\n");
    let err = env.fails(
        &["use", "dataset", "--run", &third, "--checkout", "work"],
        3,
    );
    assert!(
        err.contains("changed since art last wrote or read them"),
        "{err}"
    );
    assert_eq!(env.json(&["run", "show", &third])["used"], json!([]));
    // Deleted versions cannot be used.
    env.write("data/a.csv", "2\n");
    env.ok(&["log", "dataset", "data"]);
    env.ok(&["rm", "dataset:v0"]);
    let err = env.fails(&["use", "dataset:v0", "--run", &third], 1);
    assert!(err.contains("`dataset:v0` was deleted"), "{err}");
}

#[test]
fn versions_filter_by_run() {
    let env = Env::init();
    let a = start(&env, &[]);
    let b = start(&env, &[]);
    for (i, run) in [&a, &b, &a].iter().enumerate() {
        env.write("m/w.bin", format!("weights {i}"));
        env.ok(&["log", "model", "m", "--run", run]);
    }
    let list = env.json(&["versions", "model", "--run", &a]);
    let refs: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["reference"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["model:v0", "model:v2"]);
    assert_eq!(
        env.json(&["versions", "model", "--run", &b])[0]["reference"],
        "model:v1"
    );
    assert_eq!(
        env.json(&["versions", "model"]).as_array().unwrap().len(),
        3
    );
}

#[test]
fn sweep_finds_the_best_run() {
    let env = Env::new();
    let ids = sweep(&env);
    assert_eq!(ids.len(), 5);
    let runs = env.json(&["runs", "--group", "sweep1"]);
    for (i, r) in runs.as_array().unwrap().iter().enumerate() {
        assert_eq!(r["name"], format!("trial-{i}"));
        assert_eq!(r["status"], "ok");
        assert_eq!(r["exit_code"], 0);
        assert_eq!(r["job_type"], "train");
        assert_eq!(r["summary"], json!({"acc": SWEEP_ACC[i], "epochs": 3}));
        assert_eq!(r["config"]["lr"], json!([0.01, 0.02, 0.03, 0.04, 0.05][i]));
        assert_eq!(r["used"], json!(["dataset:v0"]));
        assert_eq!(r["logged"], json!([format!("model:v{i}")]));
    }

    // Sorted by a metric, largest first, limited.
    let top = env.json(&[
        "runs",
        "--group",
        "sweep1",
        "--sort",
        "-summary.acc",
        "--limit",
        "2",
    ]);
    let names: Vec<&str> = top
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["trial-1", "trial-3"]);
    let low = env.json(&["runs", "--sort", "summary.acc", "--limit", "1"]);
    assert_eq!(low[0]["name"], "trial-2");

    let best = env.json(&["runs", "best", "--group", "sweep1", "--metric", "acc"]);
    assert_eq!(best["run"]["id"], ids[1].as_str());
    assert_eq!(best["value"], 0.93);
    assert_eq!(best["compared"], 5);
    assert_eq!(best["missing"], json!([]));
    assert_eq!(best["run"]["logged"], json!(["model:v1"]));
    let out = env.ok(&["runs", "best", "--group", "sweep1", "--metric", "acc"]);
    assert_eq!(
        out,
        format!(
            "best:    {} (trial-1)  acc=0.93 (largest of 5 runs)\nlogged:  model:v1\n",
            ids[1]
        )
    );
    let worst = env.json(&[
        "runs", "best", "--group", "sweep1", "--metric", "acc", "--min",
    ]);
    assert_eq!(worst["run"]["id"], ids[2].as_str());
    // Its model becomes `best`.
    let model = best["run"]["logged"][0].as_str().unwrap().to_owned();
    env.ok(&["alias", "set", &model, "best"]);
    assert_eq!(
        env.json(&["show", "model:best"])["logged_by_run"],
        ids[1].as_str()
    );

    let table = env.ok(&["runs", "--group", "sweep1", "--sort", "-summary.acc"]);
    run_settings(&env).bind(|| insta::assert_snapshot!("runs_table", table));
    // --quiet prints nothing; an empty filter says so.
    assert_eq!(env.ok(&["-q", "runs"]), "");
    assert_eq!(
        env.ok(&["runs", "--group", "nope"]),
        "no runs; start one with `art run start` or `art run exec -- CMD`\n"
    );
    assert_eq!(env.json(&["runs", "--job-type", "eval"]), json!([]));
    let (code, _, err) = run(&env, &["runs", "--sort", "accuracy"]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid sort key `accuracy`"), "{err}");
}

#[test]
fn runs_missing_the_metric_come_last_and_are_ignored() {
    let env = Env::init();
    let with = |acc: &str| {
        let id = start(&env, &["--group", "g"]);
        env.ok(&["run", "finish", &id, "--summary", &format!("acc={acc}")]);
        id
    };
    let a = with("0.5");
    let none = start(&env, &["--group", "g"]);
    env.ok(&["run", "finish", &none, "--summary", "loss=0.3"]);
    let b = with("0.7");
    let text = start(&env, &["--group", "g"]);
    env.ok(&["run", "finish", &text, "--summary", r#"acc="n/a""#]);

    let sorted = env.json(&["runs", "--group", "g", "--sort", "-summary.acc"]);
    let order: Vec<&str> = sorted
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [b.as_str(), a.as_str(), text.as_str(), none.as_str()]
    );
    let sorted = env.json(&["runs", "--group", "g", "--sort", "summary.acc"]);
    assert_eq!(sorted[0]["id"], a.as_str());
    assert_eq!(sorted[3]["id"], none.as_str(), "missing is last either way");

    let out = env
        .art()
        .args(["runs", "best", "--group", "g", "--metric", "acc"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stdout.starts_with(&format!("best:    {b}  acc=0.7 (largest of 2 runs)")),
        "{stdout}"
    );
    assert_eq!(
        stderr,
        format!("note: 2 run(s) without a numeric `acc` ignored: {none}, {text}\n")
    );
    let best = env.json(&["runs", "best", "--group", "g", "--metric", "acc"]);
    assert_eq!(best["missing"], json!([none, text]));

    // No run has it: an error naming what they have.
    let err = env.fails(&["runs", "best", "--group", "g", "--metric", "f1"], 1);
    assert!(
        err.contains("no run in group `g` has a numeric summary metric `f1`; their summaries have `acc`, `loss`"),
        "{err}"
    );
    let err = env.fails(&["runs", "best", "--group", "zzz", "--metric", "acc"], 1);
    assert!(err.contains("no runs in group `zzz`"), "{err}");
    // Nested metrics are found by path.
    let nested = start(&env, &["--group", "n"]);
    env.ok(&["run", "finish", &nested, "--summary", r#"val={"acc": 0.6}"#]);
    let best = env.json(&["runs", "best", "--group", "n", "--metric", "val.acc"]);
    assert_eq!(best["value"], 0.6);
}

#[test]
fn exec_records_status_summary_and_environment() {
    let env = Env::init();
    env.write(
        "job.sh",
        r#"echo "run=$ART_RUN" > seen.txt
echo "store=$ART_STORE" >> seen.txt
echo '{"acc": 0.5, "loss": 1}' >> "$ART_SUMMARY"
echo '{"acc": 0.6}' >> "$ART_SUMMARY"
exit "$1"
"#,
    );
    let out = env
        .art()
        .args(["run", "exec", "--name", "j", "--", "sh", "job.sh", "3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "the command's exit code");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let seen = String::from_utf8(std::fs::read(env.path("seen.txt")).unwrap()).unwrap();
    let id = seen
        .lines()
        .next()
        .unwrap()
        .strip_prefix("run=")
        .unwrap()
        .to_owned();
    let store = env.path(".artifacts").canonicalize().unwrap();
    assert_eq!(
        seen.lines().nth(1).unwrap(),
        format!("store={}", store.display())
    );
    assert_eq!(
        stderr,
        format!("art: run {id} started\nart: run {id} failed (exit 3)  acc=0.6 loss=1\n")
    );
    let show = env.json(&["run", "show", &id]);
    assert_eq!(show["status"], "failed");
    assert_eq!(show["exit_code"], 3);
    assert_eq!(show["name"], "j");
    assert_eq!(show["summary"], json!({"acc": 0.6, "loss": 1}));

    // Exit 0 is ok; --json prints the finished run; a bad summary file is a warning.
    let out = env
        .art()
        .args([
            "--json",
            "run",
            "exec",
            "--",
            "sh",
            "-c",
            "echo nope > \"$ART_SUMMARY\"",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["status"], "ok");
    assert_eq!(info["exit_code"], 0);
    assert_eq!(info["summary"], json!({}));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("warning: ART_SUMMARY ignored: invalid summary"),
        "{stderr}"
    );

    // Killed by a signal: 128 + N, failed.
    let out = env
        .art()
        .args(["-q", "run", "exec", "--", "sh", "-c", "kill -9 $$"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(137));
    assert_eq!(out.stderr, b"", "--quiet");
    let last = env.json(&["runs", "--sort", "-started", "--limit", "1"]);
    assert_eq!(last[0]["exit_code"], 137);
    assert_eq!(last[0]["status"], "failed");
}

#[test]
fn exec_of_a_missing_command_fails_the_run() {
    let env = Env::init();
    let (code, _, err) = run(
        &env,
        &[
            "run",
            "exec",
            "--group",
            "g",
            "--",
            "no-such-command-xyz",
            "--flag",
        ],
    );
    assert_eq!(code, 127);
    let runs = env.json(&["runs"]);
    let id = runs[0]["id"].as_str().unwrap();
    assert!(
        err.contains(&format!(
            "error: cannot run `no-such-command-xyz`: command not found; run `{id}` is marked failed"
        )),
        "{err}"
    );
    assert_eq!(runs[0]["status"], "failed");
    assert_eq!(runs[0]["exit_code"], 127);
    assert_eq!(runs[0]["group"], "g");
    // A file that cannot be executed: 126.
    env.write("plain.txt", "not a program");
    let (code, _, err) = run(&env, &["run", "exec", "--", "./plain.txt"]);
    assert_eq!(code, 126);
    assert!(
        err.contains("cannot run `./plain.txt`: permission denied"),
        "{err}"
    );
    // No command at all is a usage error, and starts no run.
    let (code, _, _) = run(&env, &["run", "exec"]);
    assert_eq!(code, 2);
    assert_eq!(env.json(&["runs"]).as_array().unwrap().len(), 2);
}

/// Whether this process ignores SIGINT (as background jobs of a non-interactive shell do);
/// then its children cannot trap it and the SIGINT case cannot be tested.
fn sigint_ignored() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (libc_sigint() - 1)) != 0)
}

fn libc_sigint() -> i32 {
    nix::sys::signal::Signal::SIGINT as i32
}

#[test]
fn exec_forwards_sigterm_and_sigint() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    use std::os::unix::process::CommandExt;
    let env = Env::init();
    env.write(
        "wait.sh",
        r"trap 'echo TERM > caught; kill $!; exit 42' TERM
trap 'echo INT > caught; kill $!; exit 43' INT
sleep 30 >/dev/null 2>&1 &
touch started
wait
",
    );
    let mut cases = vec![(Signal::SIGTERM, 42, "TERM")];
    if !sigint_ignored() {
        cases.push((Signal::SIGINT, 43, "INT"));
    }
    for (signal, code, name) in cases {
        let _ = std::fs::remove_file(env.path("started"));
        let _ = std::fs::remove_file(env.path("caught"));
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("art"))
            .current_dir(env.root())
            .env_remove("ART_STORE")
            .env_remove("ART_RUN")
            .args(["run", "exec", "--", "sh", "wait.sh"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Not the terminal's foreground group, so SIGINT is forwarded as from `kill`.
            .process_group(0)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !env.path("started").exists() {
            assert!(Instant::now() < deadline, "the script never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        let pid = i32::try_from(child.id()).expect("pids fit in i32");
        kill(Pid::from_raw(pid), signal).unwrap();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("art did not end after {name}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(code), "{name}");
        assert_eq!(
            std::fs::read_to_string(env.path("caught")).unwrap(),
            format!("{name}\n")
        );
        let last = env.json(&["runs", "--sort", "-started", "--limit", "1"]);
        assert_eq!(last[0]["status"], "failed");
        assert_eq!(last[0]["exit_code"], code);
    }
}

#[test]
fn a_run_saves_its_code_honouring_artignore() {
    let env = Env::init();
    env.tree(&[
        ("src/train.py", b"print('hi')\n"),
        ("src/util/io.py", b"x = 1\n"),
        ("src/__pycache__/train.cpython-311.pyc", b"\0\0"),
        ("src/.venv/lib/site.py", b"vendored"),
        ("src/.artignore", b"__pycache__/\n*.pyc\n.venv/\n"),
        ("src/.gitignore", b"util/\n"),
    ]);
    succeeded(
        env.art()
            .env("PATH", path_with_art())
            .args([
                "run",
                "exec",
                "--job-type",
                "train",
                "--",
                "art",
                "log",
                "code",
                "src",
                "-t",
                "code",
            ])
            .output()
            .unwrap(),
    );
    let files = env.json(&["ls", "code"]);
    let paths: Vec<&str> = files
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [".artignore", ".gitignore", "train.py", "util/io.py"]
    );
    let run = &env.json(&["runs"])[0];
    assert_eq!(run["logged"], json!(["code:v0"]));
    assert_eq!(run["job_type"], "train");
    let code = env.json(&["show", "code"]);
    assert_eq!(code["type"], "code");
    assert_eq!(code["logged_by_run"], run["id"]);
}

//! The quick start, end to end: init, log, checkout into an empty directory, byte for byte.

use crate::util::{Env, noise};

#[test]
fn log_then_checkout_restores_bytes() {
    let env = Env::init();
    env.tree(&[
        ("data/a.txt", b"hello\n"),
        ("data/sub/b.csv", b"x,y\n1,2\n"),
    ]);
    env.write("data/big.bin", noise(3 << 20, 1));
    let out = env.ok(&["log", "dataset", "data", "-t", "dataset", "-a", "raw"]);
    assert!(out.starts_with("dataset:v0  3 files"), "{out}");
    env.ok(&["checkout", "dataset:raw", "restored"]);
    assert_eq!(env.read_tree("data"), env.read_tree("restored"));
}

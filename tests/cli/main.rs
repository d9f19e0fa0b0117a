//! CLI tests: one binary, one module per area (the ripgrep harness, on assert_cmd).

mod s3;
mod util;

mod basics;
mod checkout;
mod crash;
mod errors;
mod fsck;
mod gc;
mod inspect;
mod large;
mod lineage;
mod log;
mod partial;
mod props;
mod records;
mod registry;
mod references;
mod remote;
mod review;
mod runs;
mod ui;

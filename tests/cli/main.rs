//! CLI tests: one binary, one module per area (the ripgrep harness, on assert_cmd).

mod s3;
mod util;

mod basics;
mod checkout;
mod cloud_refs;
mod collab;
mod concurrency;
mod corruption;
mod crash;
mod errors;
mod faults;
mod fsck;
mod full_disk;
mod gc;
mod hostile;
mod inspect;
mod kills;
mod large;
mod lineage;
mod log;
mod partial;
mod permissions;
mod props;
mod records;
mod references;
mod registry;
mod reliability;
mod remote;
mod review;
mod runs;
mod ui;

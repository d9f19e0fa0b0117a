//! Throughput of the content path's parts: hashing, chunking, compression, packs.
//! Run with `cargo bench --bench components`; figures are bytes per second.

use art::model::Digest;
use art::store::{BlobKind, Chunker, PackFile, Packer, compress, decompress, pack_path};
use divan::counter::BytesCount;
use divan::{Bencher, black_box};

fn main() {
    divan::main();
}

const MIB: usize = 1 << 20;
const TEXT: &[u8; 30] = b"id,name,score\n0123456789abcdef";

/// Half text-like (compressible), half noise, like the benchmark's `small` set.
fn sample(len: usize, compressible: bool) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if compressible {
                TEXT[usize::try_from(x % 30).expect("below 30")]
            } else {
                x.to_le_bytes()[3]
            }
        })
        .collect()
}

#[divan::bench]
fn blake3_4mib(bencher: Bencher) {
    let data = sample(4 * MIB, false);
    bencher
        .counter(BytesCount::new(data.len()))
        .bench(|| Digest::of(black_box(&data)));
}

#[divan::bench]
fn fastcdc_64mib(bencher: Bencher) {
    let data = sample(64 * MIB, false);
    bencher.counter(BytesCount::new(data.len())).bench(|| {
        let mut chunker = Chunker::new(black_box(&data[..]));
        let mut n = 0;
        while let Some((_, cuts)) = chunker.next_window().expect("in-memory reads cannot fail") {
            n += cuts.len();
        }
        n
    });
}

#[divan::bench(args = [true, false])]
fn zstd3_compress_1mib(bencher: Bencher, compressible: bool) {
    let data = sample(MIB, compressible);
    bencher
        .counter(BytesCount::new(data.len()))
        .bench(|| compress(black_box(&data), 3));
}

#[divan::bench]
fn zstd_decompress_1mib(bencher: Bencher) {
    let data = sample(MIB, true);
    let z = compress(&data, 3).expect("text compresses");
    bencher
        .counter(BytesCount::new(data.len()))
        .bench(|| decompress(black_box(&z), data.len()).expect("valid frame"));
}

#[divan::bench]
fn pack_write_32mib(bencher: Bencher) {
    let blobs: Vec<(Digest, Vec<u8>)> = (0..32)
        .map(|i| {
            let b = sample(MIB, i % 2 == 0);
            (Digest::of(&b), b)
        })
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("tmp")).expect("tmp dir");
    bencher.counter(BytesCount::new(32 * MIB)).bench(|| {
        let mut packer = Packer::new(dir.path(), 64 << 20);
        for (h, b) in &blobs {
            packer
                .add_raw(*h, BlobKind::Data, b, 3)
                .expect("write blob");
        }
        packer.finish().expect("finish pack")
    });
}

#[divan::bench]
fn pack_read_32mib(bencher: Bencher) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("tmp")).expect("tmp dir");
    let mut packer = Packer::new(dir.path(), 64 << 20);
    for i in 0..32 {
        let b = sample(MIB, i % 2 == 0);
        packer
            .add_raw(Digest::of(&b), BlobKind::Data, &b, 3)
            .expect("write blob");
    }
    let packs = packer.finish().expect("finish pack");
    let out = packs.packs()[0].clone();
    packs.keep();
    let pack = PackFile::at(&pack_path(dir.path(), &out.hash)).expect("open pack");
    bencher.counter(BytesCount::new(32 * MIB)).bench(|| {
        for e in &out.entries {
            black_box(pack.read_blob(e).expect("verified read"));
        }
    });
}

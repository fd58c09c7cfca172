//! The shared adapter test suite: every [`RangeRead`] must pass it.
//!
//! Build a reader over the known 100 000-byte [`pattern`] (byte `i` is `i * 31 % 251`: its
//! period is the prime 251, so a read shifted by any power-of-two offset shows up) and call
//! [`run`]. Adapters whose backend can be changed under them also call
//! [`check_change_detected`]. The checks return a [`ConformanceError`] instead of panicking so
//! the suite can run anywhere, including wasm32 test harnesses and miniflare.
//!
//! Available with the `conformance` feature.

use std::fmt;
use std::ops::Range;

use bytes::Bytes;

use crate::{Bucket, EtagPinned, RangeRead, StorageError};

/// Size of the test object.
pub const PATTERN_LEN: u64 = 100_000;

/// Byte `i` of the test object.
pub fn pattern_byte(i: u64) -> u8 {
    // `% 251` keeps the value below 256, so the cast cannot truncate.
    (i.wrapping_mul(31) % 251) as u8
}

/// The whole test object: what an adapter under test must hold.
pub fn pattern() -> Bytes {
    (0..PATTERN_LEN).map(pattern_byte).collect()
}

/// The expected bytes for `range` of the test object.
pub fn pattern_slice(range: &Range<u64>) -> Bytes {
    range.clone().map(pattern_byte).collect()
}

/// A failed conformance check.
#[derive(Debug)]
pub struct ConformanceError {
    /// Which check failed.
    pub check: &'static str,
    /// What was expected and what happened.
    pub detail: String,
}

impl fmt::Display for ConformanceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "conformance check `{}` failed: {}",
            self.check, self.detail
        )
    }
}

impl std::error::Error for ConformanceError {}

type Check = Result<(), ConformanceError>;

fn fail(check: &'static str, detail: impl Into<String>) -> ConformanceError {
    ConformanceError {
        check,
        detail: detail.into(),
    }
}

/// Runs every check on `reader`, which must hold [`pattern`].
pub async fn run(reader: &dyn RangeRead) -> Check {
    check_len(reader).await?;
    check_reads(reader).await?;
    check_empty_ranges(reader).await?;
    check_out_of_range(reader).await?;
    check_invalid_range(reader).await?;
    check_read_ranges(reader).await?;
    check_prefix(reader).await?;
    check_etag(reader).await?;
    Ok(())
}

/// `len` is the pattern's size.
pub async fn check_len(reader: &dyn RangeRead) -> Check {
    match reader.len().await {
        Ok(PATTERN_LEN) => Ok(()),
        other => Err(fail(
            "len",
            format!("expected Ok({PATTERN_LEN}), got {other:?}"),
        )),
    }
}

async fn expect_bytes(reader: &dyn RangeRead, check: &'static str, range: Range<u64>) -> Check {
    match reader.read_range(range.clone()).await {
        Ok(bytes) if bytes == pattern_slice(&range) => Ok(()),
        Ok(bytes) => Err(fail(
            check,
            format!("wrong bytes for {range:?} ({} bytes)", bytes.len()),
        )),
        Err(err) => Err(fail(check, format!("{range:?} failed: {err}"))),
    }
}

/// First, middle, last and whole-object reads return exactly the right bytes, including a
/// range that ends exactly at `len`.
pub async fn check_reads(reader: &dyn RangeRead) -> Check {
    for range in [
        0..1,
        0..10,
        50_000..50_100,
        99_990..PATTERN_LEN,
        90_000..PATTERN_LEN,
        0..PATTERN_LEN,
    ] {
        expect_bytes(reader, "reads", range).await?;
    }
    Ok(())
}

/// Empty ranges inside the object, and at exactly `len`, return empty bytes.
pub async fn check_empty_ranges(reader: &dyn RangeRead) -> Check {
    for range in [0..0, 500..500, PATTERN_LEN..PATTERN_LEN] {
        expect_bytes(reader, "empty ranges", range).await?;
    }
    Ok(())
}

fn is_out_of_range(result: &Result<impl fmt::Debug, StorageError>) -> bool {
    matches!(
        result,
        Err(StorageError::OutOfRange {
            len: PATTERN_LEN,
            ..
        })
    )
}

/// Ranges past the end are `OutOfRange { len }`, never short reads.
pub async fn check_out_of_range(reader: &dyn RangeRead) -> Check {
    for range in [
        99_990..PATTERN_LEN + 1,
        PATTERN_LEN..PATTERN_LEN + 10,
        200_000..300_000,
        200_000..200_000,
    ] {
        let result = reader.read_range(range.clone()).await;
        if !is_out_of_range(&result) {
            return Err(fail(
                "out of range",
                format!("{range:?}: expected OutOfRange, got {result:?}"),
            ));
        }
    }
    let result = reader.read_ranges(&[0..10, 99_999..PATTERN_LEN + 1]).await;
    if !is_out_of_range(&result) {
        return Err(fail(
            "out of range",
            format!("read_ranges: expected OutOfRange, got {result:?}"),
        ));
    }
    Ok(())
}

/// A range whose start is after its end is `InvalidRange`.
pub async fn check_invalid_range(reader: &dyn RangeRead) -> Check {
    let (start, end) = (10, 5);
    let result = reader.read_range(start..end).await;
    if !matches!(result, Err(StorageError::InvalidRange { .. })) {
        return Err(fail(
            "invalid range",
            format!("10..5: expected InvalidRange, got {result:?}"),
        ));
    }
    let result = reader.read_ranges(&[0..10, start..end]).await;
    if !matches!(result, Err(StorageError::InvalidRange { .. })) {
        return Err(fail(
            "invalid range",
            format!("read_ranges: expected InvalidRange, got {result:?}"),
        ));
    }
    Ok(())
}

/// `read_ranges` keeps input order for unsorted, overlapping, repeated and empty ranges.
pub async fn check_read_ranges(reader: &dyn RangeRead) -> Check {
    let cases: [&[Range<u64>]; 4] = [
        &[],
        &[50_000..50_010, 0..10, 99_990..PATTERN_LEN, 20..20],
        &[100..200, 150..250, 100..200, 120..130, 0..PATTERN_LEN],
        &[70_000..70_001, 10..11, 69_999..70_002],
    ];
    for ranges in cases {
        let got = reader
            .read_ranges(ranges)
            .await
            .map_err(|err| fail("read_ranges", format!("{ranges:?} failed: {err}")))?;
        let want: Vec<Bytes> = ranges.iter().map(pattern_slice).collect();
        if got != want {
            return Err(fail(
                "read_ranges",
                format!("{ranges:?}: wrong bytes or order"),
            ));
        }
    }
    Ok(())
}

/// `read_prefix` returns `min(max_len, len)` bytes from offset 0.
pub async fn check_prefix(reader: &dyn RangeRead) -> Check {
    for (max_len, want) in [
        (0, 0),
        (16, 16),
        (PATTERN_LEN, PATTERN_LEN),
        (10 * PATTERN_LEN, PATTERN_LEN),
    ] {
        match reader.read_prefix(max_len).await {
            Ok(bytes) if bytes == pattern_slice(&(0..want)) => {}
            other => {
                return Err(fail(
                    "prefix",
                    format!("max_len {max_len}: expected {want} bytes, got {other:?}"),
                ));
            }
        }
    }
    Ok(())
}

/// The ETag (if the adapter has one) is stable, conditional reads on it succeed, and
/// conditional reads on any other version fail with `Precondition`.
pub async fn check_etag(reader: &dyn RangeRead) -> Check {
    reader
        .len()
        .await
        .map_err(|err| fail("etag", err.to_string()))?;
    let Some(etag) = reader.etag() else {
        return Ok(());
    };
    if reader.etag().as_deref() != Some(etag.as_str()) {
        return Err(fail(
            "etag",
            "etag changed between two calls on an unchanged object",
        ));
    }
    match reader.read_range_if_match(10..20, &etag).await {
        Ok(bytes) if bytes == pattern_slice(&(10..20)) => {}
        other => {
            return Err(fail(
                "etag",
                format!("read with the current etag: {other:?}"),
            ));
        }
    }
    let result = reader.read_range_if_match(10..20, "\"not-the-etag\"").await;
    if !matches!(result, Err(StorageError::Precondition { .. })) {
        return Err(fail(
            "etag",
            format!("read with a wrong etag: expected Precondition, got {result:?}"),
        ));
    }
    Ok(())
}

/// After `change` replaces the object, reads pinned to the old version fail with
/// `Precondition`, both through `read_range_if_match` and through [`EtagPinned`].
///
/// `reader` must hold [`pattern`] and report an ETag; `change` must store different bytes
/// (ideally of a different size, so coarse file timestamps cannot hide the change).
pub async fn check_change_detected(reader: &dyn RangeRead, change: impl AsyncFnOnce()) -> Check {
    let pinned = EtagPinned::open(reader)
        .await
        .map_err(|err| fail("change", err.to_string()))?;
    let Some(old) = pinned.pinned_etag().map(str::to_owned) else {
        return Err(fail(
            "change",
            "the adapter reports no etag, so changes cannot be detected",
        ));
    };
    pinned
        .read_range(0..10)
        .await
        .map_err(|err| fail("change", format!("read before change: {err}")))?;
    change().await;
    let direct = reader.read_range_if_match(0..10, &old).await;
    if !matches!(direct, Err(StorageError::Precondition { .. })) {
        return Err(fail(
            "change",
            format!("read_range_if_match after change: got {direct:?}"),
        ));
    }
    let through = pinned.read_range(0..10).await;
    if !matches!(through, Err(StorageError::Precondition { .. })) {
        return Err(fail(
            "change",
            format!("EtagPinned read after change: got {through:?}"),
        ));
    }
    Ok(())
}

/// The key of the [`pattern`] object in [`bucket_fixture`].
pub const BUCKET_PATTERN_KEY: &str = "layers/b/v/1/cog/0/0/0.tif";

/// The objects a [`Bucket`] under test must hold for [`check_bucket`]: the pattern plus a
/// few small objects laid out like a real store (two layers, a stray file, a legend).
pub fn bucket_fixture() -> Vec<(&'static str, Bytes)> {
    vec![
        (
            "layers/a/manifest.json",
            Bytes::from_static(b"{\"id\":\"a\"}"),
        ),
        (
            "layers/b/manifest.json",
            Bytes::from_static(b"{\"id\":\"b\"}"),
        ),
        (BUCKET_PATTERN_KEY, pattern()),
        ("layers/top.json", Bytes::from_static(b"{}")),
        ("legends/x.json", Bytes::from_static(b"[]")),
    ]
}

/// Runs every [`Bucket`] check on `bucket`, which must hold exactly [`bucket_fixture`].
pub async fn check_bucket(bucket: &dyn Bucket) -> Check {
    check_bucket_get(bucket).await?;
    check_bucket_object(bucket).await?;
    check_bucket_list(bucket).await?;
    Ok(())
}

/// `get`: whole objects with their ETag, `None` when missing, `TooLarge` past `max_len`.
pub async fn check_bucket_get(bucket: &dyn Bucket) -> Check {
    let check = "bucket get";
    match bucket.get("layers/a/manifest.json", 1024).await {
        Ok(Some(f)) if f.bytes.as_ref() == b"{\"id\":\"a\"}" => {}
        other => return Err(fail(check, format!("small object: {other:?}"))),
    }
    match bucket.get("layers/nope/manifest.json", 1024).await {
        Ok(None) => {}
        other => {
            return Err(fail(
                check,
                format!("missing key: expected None, got {other:?}"),
            ));
        }
    }
    match bucket.get(BUCKET_PATTERN_KEY, PATTERN_LEN).await {
        Ok(Some(f)) if f.bytes == pattern() => {}
        Ok(Some(f)) => {
            return Err(fail(
                check,
                format!("pattern: {} wrong bytes", f.bytes.len()),
            ));
        }
        other => return Err(fail(check, format!("max_len == size: {other:?}"))),
    }
    match bucket.get(BUCKET_PATTERN_KEY, PATTERN_LEN - 1).await {
        Err(StorageError::TooLarge {
            len: PATTERN_LEN,
            max,
            ..
        }) if max == PATTERN_LEN - 1 => {}
        other => {
            return Err(fail(
                check,
                format!(
                    "max_len below size: expected TooLarge, got {:?}",
                    other.map(|f| f.map(|f| f.bytes.len()))
                ),
            ));
        }
    }
    Ok(())
}

/// `object`: a conforming reader; pinned to the current ETag it reads, pinned to another it
/// fails with `Precondition`; a missing key is `NotFound` on first read.
pub async fn check_bucket_object(bucket: &dyn Bucket) -> Check {
    let check = "bucket object";
    run(bucket.object(BUCKET_PATTERN_KEY, None).as_ref()).await?;
    let etag = match bucket.get(BUCKET_PATTERN_KEY, PATTERN_LEN).await {
        Ok(Some(f)) => f.etag,
        other => return Err(fail(check, format!("get: {:?}", other.map(|_| ())))),
    };
    if let Some(etag) = etag {
        let pinned = bucket.object(BUCKET_PATTERN_KEY, Some(&etag));
        match pinned.read_range(5..9).await {
            Ok(bytes) if bytes == pattern_slice(&(5..9)) => {}
            other => {
                return Err(fail(
                    check,
                    format!("pinned to the current etag: {other:?}"),
                ));
            }
        }
        let stale = bucket.object(BUCKET_PATTERN_KEY, Some("\"not-the-etag\""));
        let result = stale.read_range(5..9).await;
        if !matches!(result, Err(StorageError::Precondition { .. })) {
            return Err(fail(
                check,
                format!("pinned to a wrong etag: expected Precondition, got {result:?}"),
            ));
        }
    }
    let missing = bucket.object("layers/nope/cog/0/0/0.tif", None);
    let result = missing.read_range(0..1).await;
    if !matches!(result, Err(StorageError::NotFound { .. })) {
        return Err(fail(
            check,
            format!("missing key: expected NotFound, got {result:?}"),
        ));
    }
    Ok(())
}

/// `list_dirs`: immediate child folder names, sorted, without files or duplicates.
pub async fn check_bucket_list(bucket: &dyn Bucket) -> Check {
    let check = "bucket list_dirs";
    let cases: [(&str, &[&str]); 4] = [
        ("layers/", &["a", "b"]),
        ("layers/b/v/", &["1"]),
        ("", &["layers", "legends"]),
        ("nothing/", &[]),
    ];
    for (prefix, want) in cases {
        match bucket.list_dirs(prefix).await {
            Ok(got) if got == want => {}
            other => {
                return Err(fail(
                    check,
                    format!("{prefix:?}: expected {want:?}, got {other:?}"),
                ));
            }
        }
    }
    Ok(())
}

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

use crate::{EtagPinned, RangeRead, StorageError};

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

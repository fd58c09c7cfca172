//! Decoding one 256x256 tile, the per-tile work of the tile server before rendering:
//! float32 DEM with deflate + floating-point predictor (ingest's default for floats), the
//! same with zstd, and 3 x uint8 RGB with deflate or zstd + horizontal differencing. Inflate
//! alone is timed too, to split the float tile's time between codec and predictor.
//!
//! Tiles are synthetic but shaped like real data (smooth terrain with fine noise, imagery
//! with gradients and grain), so the compressed sizes, and thus inflate's work, are close
//! to the demo data's rather than those of a constant or random tile.
//!
//!   cargo bench -p tilefn-cog --bench decode
// A bench whose fixture cannot be built must stop loudly.
#![allow(clippy::panic)]

#[cfg(not(target_arch = "wasm32"))]
mod bench {
    use criterion::{Criterion, Throughput};
    use std::hint::black_box;
    use tilefn_cog::read::{Limits, Tiff, parse_file};
    use tilefn_cog::write::{CogSpec, Compression, Photometric, Predictor, encode_tile, header};
    use tilefn_cog::{CogError, decode_tile};
    use tilefn_raster::{DataType, TileCoord};

    const SIDE: usize = 256;

    /// Deterministic noise in [0, 1) (xorshift): the same tile every run.
    struct Noise(u64);

    impl Noise {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// Terrain heights in metres: a few long waves plus centimetre noise, like a DEM.
    fn dem_pixels() -> Vec<u8> {
        let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
        let mut px = Vec::with_capacity(SIDE * SIDE * 4);
        for row in 0..SIDE {
            for col in 0..SIDE {
                let (x, y) = (col as f64 / 40.0, row as f64 / 55.0);
                let h = 800.0 + 300.0 * x.sin() * y.cos() + 120.0 * (0.3 * x + 0.7 * y).sin();
                let h = h as f32 + (noise.next() as f32 - 0.5) * 0.05;
                px.extend_from_slice(&h.to_le_bytes());
            }
        }
        px
    }

    /// Pixel-interleaved RGB: smooth colour gradients plus a few levels of grain.
    fn rgb_pixels() -> Vec<u8> {
        let mut noise = Noise(0x2545_f491_4f6c_dd1d);
        let mut px = Vec::with_capacity(SIDE * SIDE * 3);
        for row in 0..SIDE {
            for col in 0..SIDE {
                let (x, y) = (col as f64 / 30.0, row as f64 / 45.0);
                let base = [
                    110.0 + 60.0 * x.sin(),
                    120.0 + 50.0 * (x + y).cos(),
                    90.0 + 40.0 * y.sin(),
                ];
                for b in base {
                    px.push((b + noise.next() * 12.0).clamp(0.0, 255.0) as u8);
                }
            }
        }
        px
    }

    /// A one-level, one-tile COG holding `pixels` (for its parsed IFD) and the tile's bytes.
    fn fixture(
        dtype: DataType,
        bands: u16,
        compression: Compression,
        predictor: Predictor,
        pixels: &[u8],
    ) -> Result<(Tiff, Vec<u8>), CogError> {
        let spec = CogSpec {
            anchor: TileCoord::new(12, 2200, 1340),
            levels: 1,
            dtype,
            bands,
            alpha: false,
            mask: false,
            photometric: if bands == 3 {
                Photometric::Rgb
            } else {
                Photometric::MinIsBlack
            },
            compression,
            predictor,
            nodata: if dtype.is_float() {
                Some(-9999.0)
            } else {
                None
            },
        };
        let tile = encode_tile(&spec, pixels)?;
        let mut file = header(&spec, &[vec![tile.len() as u64]])?;
        file.extend_from_slice(&tile);
        let tiff = parse_file(&file, &Limits::default())?;
        // Decoding once up front proves the fixture round-trips before timing it.
        let ifd = tiff
            .ifds
            .first()
            .ok_or_else(|| CogError::Format("no IFD".into()))?;
        if decode_tile(&tiff, ifd, &tile, &Limits::default())? != pixels {
            return Err(CogError::Format(
                "decoded tile differs from its pixels".into(),
            ));
        }
        Ok((tiff, tile))
    }

    fn one(
        c: &mut Criterion,
        name: &str,
        dtype: DataType,
        bands: u16,
        compression: Compression,
        predictor: Predictor,
        pixels: &[u8],
    ) {
        let (tiff, tile) = fixture(dtype, bands, compression, predictor, pixels)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let Some(ifd) = tiff.ifds.first() else {
            panic!("{name}: no IFD");
        };
        let limits = Limits::default();
        let mut group = c.benchmark_group("decode_tile");
        // Decoded bytes per second: comparable across codecs and sample types.
        group.throughput(Throughput::Bytes(pixels.len() as u64));
        group.bench_function(format!("{name} ({} B compressed)", tile.len()), |b| {
            b.iter(|| decode_tile(black_box(&tiff), ifd, black_box(&tile), &limits))
        });
        group.finish();
    }

    /// Inflate alone on the float32 deflate tile, so the predictor's share of `decode_tile`
    /// is the difference between the two.
    fn inflate_only(c: &mut Criterion, pixels: &[u8]) {
        let (_, tile) = fixture(
            DataType::Float32,
            1,
            Compression::Deflate,
            Predictor::FloatingPoint,
            pixels,
        )
        .unwrap_or_else(|e| panic!("inflate_only: {e}"));
        let mut group = c.benchmark_group("decode_tile");
        group.throughput(Throughput::Bytes(pixels.len() as u64));
        group.bench_function("f32_deflate_inflate_only (miniz_oxide)", |b| {
            b.iter(|| miniz_oxide::inflate::decompress_to_vec_zlib(black_box(&tile)))
        });
        group.finish();
    }

    pub fn decode(c: &mut Criterion) {
        let dem = dem_pixels();
        let rgb = rgb_pixels();
        let (f32_, u8_) = (DataType::Float32, DataType::Uint8);
        use Compression::{Deflate, Zstd};
        use Predictor::{FloatingPoint, Horizontal};
        one(
            c,
            "f32_deflate_pred3",
            f32_,
            1,
            Deflate,
            FloatingPoint,
            &dem,
        );
        inflate_only(c, &dem);
        one(c, "f32_zstd_pred3", f32_, 1, Zstd, FloatingPoint, &dem);
        one(c, "rgb_u8_deflate_pred2", u8_, 3, Deflate, Horizontal, &rgb);
        one(c, "rgb_u8_zstd_pred2", u8_, 3, Zstd, Horizontal, &rgb);
    }
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_group!(benches, bench::decode);
#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(benches);

#[cfg(target_arch = "wasm32")]
fn main() {}

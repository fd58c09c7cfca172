//! Round trips through the tiff crate's decoder: the encoder side (tags, predictors, deflate)
//! is hand-rolled, so it is checked against an independent reader here and against GDAL by
//! `tools/demodata/check_gdal.py`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::io::BufReader;

use tiff::decoder::{Decoder, DecodingResult};
use tiff::tags::Tag;

use crate::geotiff::{self, Encoding, Scene};
use crate::scenes;

fn enc(compressed: bool, strip_bytes: usize) -> Encoding {
    Encoding {
        deflate_level: compressed.then_some(6),
        predictor: compressed,
        strip_bytes,
    }
}

/// Every row the scene generates, concatenated: what a reader must decode.
fn expected(scene: &dyn Scene) -> Vec<u8> {
    let l = scene.layout();
    let mut all = vec![0u8; l.row_bytes() * l.height as usize];
    for (y, row) in all.chunks_exact_mut(l.row_bytes()).enumerate() {
        scene.fill_row(y as u32, row);
    }
    all
}

fn decoded_bytes(r: DecodingResult) -> Vec<u8> {
    match r {
        DecodingResult::U8(v) => v,
        DecodingResult::U16(v) => v.iter().flat_map(|x| x.to_ne_bytes()).collect(),
        DecodingResult::F32(v) => v.iter().flat_map(|x| x.to_ne_bytes()).collect(),
        _ => panic!("unexpected sample type"),
    }
}

fn roundtrip(scene: &dyn Scene, encoding: &Encoding) -> Decoder<BufReader<File>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.tif");
    geotiff::write(&path, scene, encoding).unwrap();
    let mut d = Decoder::new(BufReader::new(File::open(&path).unwrap())).unwrap();
    let l = scene.layout();
    assert_eq!(d.dimensions().unwrap(), (l.width, l.height));
    let got = decoded_bytes(d.read_image().unwrap());
    assert!(
        got == expected(scene),
        "decoded pixels differ from the generated ones"
    );
    d
}

#[test]
fn every_scene_roundtrips_with_predictor_and_deflate() {
    // Odd sizes and tiny strips exercise partial last strips and many strips per batch.
    let scenes: Vec<Box<dyn Scene>> = vec![
        Box::new(scenes::Dem { size: 67, seed: 1 }),
        Box::new(scenes::Multispectral { size: 67, seed: 1 }),
        Box::new(scenes::Landcover { size: 67, seed: 1 }),
        Box::new(scenes::Rgb { size: 67, seed: 1 }),
    ];
    for s in &scenes {
        roundtrip(s.as_ref(), &enc(true, 1000));
        roundtrip(s.as_ref(), &enc(false, 1 << 20));
    }
}

#[test]
fn geotiff_tags() {
    let mut d = roundtrip(&scenes::Dem { size: 40, seed: 5 }, &enc(true, 4096));
    assert_eq!(
        d.get_tag_f64_vec(Tag::Unknown(33550)).unwrap(),
        vec![30.0, 30.0, 0.0]
    );
    let tie = d.get_tag_f64_vec(Tag::Unknown(33922)).unwrap();
    assert_eq!(tie, vec![0.0, 0.0, 0.0, 300_000.0, 5_220_000.0, 0.0]);
    let keys = d.get_tag_u16_vec(Tag::Unknown(34735)).unwrap();
    assert_eq!(
        keys,
        vec![1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 32633]
    );
    assert_eq!(
        d.get_tag_ascii_string(Tag::Unknown(42113)).unwrap(),
        "-9999"
    );
    assert_eq!(d.get_tag_u16_vec(Tag::Predictor).unwrap(), vec![3]);

    let mut d = roundtrip(&scenes::Rgb { size: 40, seed: 5 }, &enc(true, 4096));
    let keys = d.get_tag_u16_vec(Tag::Unknown(34735)).unwrap();
    assert_eq!(&keys[12..], &[2048, 0, 1, 4326]);
    assert!(
        d.get_tag_ascii_string(Tag::Unknown(42113)).is_err(),
        "rgb has no nodata"
    );
}

#[test]
fn output_is_deterministic_and_seed_dependent() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, seed: u64| {
        let p = dir.path().join(name);
        geotiff::write(&p, &scenes::Landcover { size: 100, seed }, &enc(true, 2048)).unwrap();
        std::fs::read(p).unwrap()
    };
    assert_eq!(write("a.tif", 9), write("b.tif", 9));
    assert_ne!(write("a.tif", 9), write("c.tif", 10));
}

#[test]
fn scenes_have_the_advertised_content() {
    let size = 256u32;
    // DEM: alpine elevations plus the nodata lake and corner.
    let dem = expected(&scenes::Dem {
        size,
        seed: 20_240_601,
    });
    let z: Vec<f32> = dem
        .chunks_exact(4)
        .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let nodata = z.iter().filter(|v| **v == scenes::DEM_NODATA).count();
    assert!(
        nodata > z.len() / 100 && nodata < z.len() / 5,
        "nodata {nodata}"
    );
    let valid: Vec<f32> = z
        .iter()
        .copied()
        .filter(|v| *v != scenes::DEM_NODATA)
        .collect();
    let (lo, hi) = valid
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
    assert!(
        lo >= 200.0 && hi <= 4000.0 && hi - lo > 300.0,
        "range {lo}..{hi}"
    );

    // Multispectral: vegetation (NDVI > 0.5) and water (NDVI < 0) both present.
    // 512 px = 0.128°, enough for a few of the ~0.05° lakes.
    let ms = expected(&scenes::Multispectral {
        size: 512,
        seed: 20_240_601,
    });
    let px: Vec<[f64; 4]> = ms
        .chunks_exact(8)
        .map(|p| std::array::from_fn(|b| f64::from(u16::from_ne_bytes([p[2 * b], p[2 * b + 1]]))))
        .filter(|p: &[f64; 4]| p[0] > 0.0)
        .collect();
    let ndvi = |p: &[f64; 4]| (p[3] - p[2]) / (p[3] + p[2]);
    let veg = px.iter().filter(|p| ndvi(p) > 0.5).count();
    let water = px.iter().filter(|p| ndvi(p) < 0.0).count();
    assert!(
        veg > px.len() / 20 && water > 0,
        "veg {veg} water {water} of {}",
        px.len()
    );

    // Land cover: several classes and a nodata border.
    let lc = expected(&scenes::Landcover {
        size,
        seed: 20_240_601,
    });
    let mut counts = [0usize; 9];
    for v in &lc {
        counts[usize::from(*v)] += 1;
    }
    assert!(counts[0] > 0, "no nodata");
    assert!(
        counts[1..].iter().filter(|c| **c > 0).count() >= 5,
        "{counts:?}"
    );
}

/// GDAL (the venv's rasterio) must read the demo set with the right CRS, bounds, nodata and
/// content. Skipped without the venv (scripts/python-env.sh), except under CI=true.
#[test]
fn gdal_reads_the_demo_set() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let python = std::path::Path::new(root).join(".venv/bin/python");
    if !python.exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but .venv is missing: run scripts/python-env.sh"
        );
        eprintln!("SKIPPED: no .venv (run scripts/python-env.sh)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let size = 1024;
    let seed = 20_240_601;
    let scenes: [(&str, Box<dyn Scene>); 4] = [
        ("dem", Box::new(scenes::Dem { size, seed })),
        (
            "multispectral",
            Box::new(scenes::Multispectral { size, seed }),
        ),
        ("landcover", Box::new(scenes::Landcover { size, seed })),
        ("rgb", Box::new(scenes::Rgb { size, seed })),
    ];
    for (name, scene) in &scenes {
        let path = dir.path().join(format!("{name}.tif"));
        geotiff::write(&path, scene.as_ref(), &enc(true, 256 * 1024)).unwrap();
    }
    let out = std::process::Command::new(&python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/check_gdal.py"))
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(
        out.status.success() && stdout.lines().count() == 4,
        "check_gdal.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn srtm_cells_are_named_nested_and_in_the_band() {
    use crate::srtm::{self, Cell};
    let name = |lat, lon| {
        Cell {
            lat,
            lon,
            elevation: 1,
        }
        .name()
    };
    assert_eq!(name(45, 6), "N45E006");
    assert_eq!(name(-12, -77), "S12W077");
    assert_eq!(name(0, -180), "N00W180");

    let many = srtm::land_cells(7, 14_000).unwrap();
    assert_eq!(srtm::land_cells(7, 1000).unwrap(), many[..1000]);
    assert_ne!(srtm::land_cells(8, 1000).unwrap(), many[..1000]);
    let mut names: Vec<String> = many.iter().map(Cell::name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 14_000);
    assert!(
        many.iter()
            .all(|c| (-56..60).contains(&c.lat) && (-180..180).contains(&c.lon))
    );
    // Land-like: most land cells have land on all four sides (a checkerboard would have none).
    let set: std::collections::HashSet<(i32, i32)> = many.iter().map(|c| (c.lat, c.lon)).collect();
    let inland = many
        .iter()
        .filter(|c| {
            [(0, 1), (0, -1), (1, 0), (-1, 0)]
                .iter()
                .all(|(dy, dx)| set.contains(&(c.lat + dy, c.lon + dx)))
        })
        .count();
    assert!(inland > many.len() / 2, "only {inland} inland cells");
}

/// The srtm-tiles files must be full-size SRTM headers whose every tile decodes.
#[test]
fn srtm_tiles_are_full_headers_with_one_shared_tile() {
    use crate::srtm;
    let dir = tempfile::tempdir().unwrap();
    let cells = srtm::land_cells(3, 3).unwrap();
    let list = dir.path().join("sub/list.txt");
    let written = srtm::write_tiles(
        &dir.path().join("tiles"),
        &cells,
        srtm::Content::Headers { tile_size: 256 },
        &list,
    )
    .unwrap();
    assert_eq!(written.files, 3);
    let paths: Vec<String> = std::fs::read_to_string(&list)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(paths.len(), 3);
    let cell = cells[0];
    assert!(paths[0].ends_with(&format!("/tiles/{}.tif", cell.name())));
    let len = std::fs::metadata(&paths[0]).unwrap().len();
    assert!(len < 8192, "{len} bytes");
    assert!(written.bytes < 3 * 8192);

    let mut d = Decoder::new(BufReader::new(File::open(&paths[0]).unwrap())).unwrap();
    assert_eq!(d.dimensions().unwrap(), (3601, 3601));
    assert_eq!(d.chunk_dimensions(), (256, 256));
    assert_eq!(d.get_tag_u16_vec(Tag::BitsPerSample).unwrap(), vec![16]);
    assert_eq!(d.get_tag_u16_vec(Tag::SampleFormat).unwrap(), vec![2]);
    let px = 1.0 / 3600.0;
    assert_eq!(
        d.get_tag_f64_vec(Tag::Unknown(33550)).unwrap(),
        vec![px, px, 0.0]
    );
    let tie = d.get_tag_f64_vec(Tag::Unknown(33922)).unwrap();
    let (west, north) = (
        f64::from(cell.lon) - 0.5 * px,
        f64::from(cell.lat + 1) + 0.5 * px,
    );
    assert_eq!(tie, vec![0.0, 0.0, 0.0, west, north, 0.0]);
    let keys = d.get_tag_u16_vec(Tag::Unknown(34735)).unwrap();
    assert_eq!(
        keys,
        vec![1, 1, 0, 3, 1024, 0, 1, 2, 1025, 0, 1, 1, 2048, 0, 1, 4326]
    );
    assert_eq!(
        d.get_tag_ascii_string(Tag::Unknown(42113)).unwrap(),
        "-32768"
    );

    let block: Vec<i16> = cell
        .block(256)
        .chunks_exact(2)
        .map(|b| i16::from_ne_bytes([b[0], b[1]]))
        .collect();
    let tiles = d.tile_count().unwrap();
    assert_eq!(tiles, 15 * 15);
    for i in 0..tiles {
        let (w, h) = d.chunk_data_dimensions(i);
        let DecodingResult::I16(got) = d.read_chunk(i).unwrap() else {
            panic!("tile {i} is not int16");
        };
        // Edge tiles come back cropped to the image: compare the top-left w x h of the block.
        let want: Vec<i16> = (0..h as usize)
            .flat_map(|y| block[y * 256..y * 256 + w as usize].iter().copied())
            .collect();
        assert!(got == want, "tile {i} ({w}x{h}) differs");
    }
}

//! Which COG object holds which XYZ tile: pure tile math, no I/O.
//!
//! A layer's pyramid (`min_zoom..=max_zoom`) is cut into *level groups* of at most
//! [`MAX_LEVELS_PER_COG`] zooms, built from the finest zoom upwards. Each group is stored as
//! one COG per *anchor tile* (a tile at the group's coarsest zoom): the COG covers exactly
//! that tile's Web Mercator box, its full-resolution IFD is the group's finest zoom and each
//! overview is one zoom coarser. Capping a COG at 8 levels caps its tile count at
//! `(4^8 - 1) / 3 = 21845`, which keeps every header under ~175 KB (classic TIFF, 8 bytes of
//! offset + byte count per tile) however large the layer is. See the crate README.

use serde::{Deserialize, Serialize};
use tilefn_raster::TileCoord;
use tilefn_raster::mercator::MAX_ZOOM;

/// Most zoom levels (IFDs) one COG holds.
pub const MAX_LEVELS_PER_COG: u8 = 8;

/// One band of zooms stored together: one COG per tile at `anchor_zoom`, whose levels are
/// zooms `max_zoom` (level 0, full resolution) down to `anchor_zoom` (the last overview).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LevelGroup {
    pub anchor_zoom: u8,
    pub max_zoom: u8,
}

impl LevelGroup {
    /// Number of levels (IFDs) in each COG of this group.
    pub fn levels(&self) -> u8 {
        self.max_zoom - self.anchor_zoom + 1
    }

    pub fn contains(&self, z: u8) -> bool {
        (self.anchor_zoom..=self.max_zoom).contains(&z)
    }

    /// The zoom stored at `level` (0 = full resolution), `None` past the last overview.
    pub fn zoom_of_level(&self, level: usize) -> Option<u8> {
        let level = u8::try_from(level).ok()?;
        self.max_zoom
            .checked_sub(level)
            .filter(|z| *z >= self.anchor_zoom)
    }

    /// The level (IFD index) that stores zoom `z`.
    pub fn level_of_zoom(&self, z: u8) -> Option<usize> {
        self.contains(z).then(|| usize::from(self.max_zoom - z))
    }
}

/// How a layer's zooms map to COG objects. `groups` is finest first.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PyramidLayout {
    pub min_zoom: u8,
    pub max_zoom: u8,
    pub groups: Vec<LevelGroup>,
}

/// Where one XYZ tile is stored: COG `cog` (its anchor tile), IFD `level`, internal tile
/// (`col`, `row`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TilePlace {
    pub cog: TileCoord,
    pub level: usize,
    pub col: u32,
    pub row: u32,
}

impl PyramidLayout {
    /// The layout for zooms `min_zoom..=max_zoom`. Zooms past [`MAX_ZOOM`] are clamped, and a
    /// `min_zoom` above `max_zoom` is lowered to it, so this never fails (callers validate
    /// user zooms before they get here).
    pub fn new(min_zoom: u8, max_zoom: u8) -> PyramidLayout {
        let max_zoom = max_zoom.min(MAX_ZOOM);
        let min_zoom = min_zoom.min(max_zoom);
        let mut groups = Vec::new();
        let mut group_max = max_zoom;
        loop {
            let anchor_zoom = group_max
                .saturating_sub(MAX_LEVELS_PER_COG - 1)
                .max(min_zoom);
            groups.push(LevelGroup {
                anchor_zoom,
                max_zoom: group_max,
            });
            if anchor_zoom == min_zoom {
                break;
            }
            // anchor_zoom > min_zoom >= 0 here, so this cannot underflow.
            group_max = anchor_zoom - 1;
        }
        PyramidLayout {
            min_zoom,
            max_zoom,
            groups,
        }
    }

    pub fn group_of(&self, z: u8) -> Option<&LevelGroup> {
        self.groups.iter().find(|g| g.contains(z))
    }

    /// Where tile `t` is stored; `None` outside `min_zoom..=max_zoom` or off the XYZ grid.
    pub fn locate(&self, t: TileCoord) -> Option<TilePlace> {
        let g = self.group_of(t.z)?;
        let n = 1u64 << t.z;
        if u64::from(t.x) >= n || u64::from(t.y) >= n {
            return None;
        }
        let cog = t.ancestor(g.anchor_zoom);
        let shift = t.z - cog.z;
        Some(TilePlace {
            cog,
            level: usize::from(g.max_zoom - t.z),
            col: t.x - (cog.x << shift),
            row: t.y - (cog.y << shift),
        })
    }

    /// The inverse of [`locate`](Self::locate): the XYZ tile at (`col`, `row`) of `level`
    /// in the COG anchored at `cog`.
    pub fn tile_at(&self, cog: TileCoord, level: usize, col: u32, row: u32) -> Option<TileCoord> {
        let g = self.groups.iter().find(|g| g.anchor_zoom == cog.z)?;
        let z = g.zoom_of_level(level)?;
        let shift = z - cog.z;
        let side = 1u32 << shift;
        (col < side && row < side)
            .then(|| TileCoord::new(z, (cog.x << shift) + col, (cog.y << shift) + row))
    }
}

/// Object key of the COG anchored at `anchor`, relative to the layer version's prefix.
pub fn cog_key(anchor: TileCoord) -> String {
    format!("cog/{}/{}/{}.tif", anchor.z, anchor.x, anchor.y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_layer_is_one_group() {
        let l = PyramidLayout::new(9, 12);
        assert_eq!(
            l.groups,
            vec![LevelGroup {
                anchor_zoom: 9,
                max_zoom: 12
            }]
        );
        let p = l.locate(TileCoord::new(12, 1000, 2001));
        let anchor = TileCoord::new(9, 125, 250);
        assert_eq!(
            p,
            Some(TilePlace {
                cog: anchor,
                level: 0,
                col: 0,
                row: 1
            })
        );
        assert_eq!(
            l.locate(TileCoord::new(9, 125, 250)),
            Some(TilePlace {
                cog: anchor,
                level: 3,
                col: 0,
                row: 0
            })
        );
        assert_eq!(l.locate(TileCoord::new(8, 1, 1)), None);
        assert_eq!(l.locate(TileCoord::new(13, 1, 1)), None);
        assert_eq!(l.locate(TileCoord::new(12, 4096, 0)), None);
    }

    #[test]
    fn world_z16_groups() {
        let l = PyramidLayout::new(0, 16);
        let g = |a, m| LevelGroup {
            anchor_zoom: a,
            max_zoom: m,
        };
        assert_eq!(l.groups, vec![g(9, 16), g(1, 8), g(0, 0)]);
        assert!(l.groups.iter().all(|g| g.levels() <= MAX_LEVELS_PER_COG));
        assert_eq!(l.group_of(8), Some(&g(1, 8)));
        let t = TileCoord::new(16, 65535, 12345);
        let p = l.locate(t).unwrap_or(TilePlace {
            cog: t,
            level: 99,
            col: 0,
            row: 0,
        });
        assert_eq!(p.cog, TileCoord::new(9, 511, 96));
        assert_eq!((p.level, p.col, p.row), (0, 127, 57));
        assert_eq!(l.tile_at(p.cog, p.level, p.col, p.row), Some(t));
        let root = l.locate(TileCoord::new(0, 0, 0));
        assert_eq!(
            root,
            Some(TilePlace {
                cog: TileCoord::new(0, 0, 0),
                level: 0,
                col: 0,
                row: 0
            })
        );
    }

    #[test]
    fn every_tile_round_trips() {
        let l = PyramidLayout::new(2, 11);
        assert_eq!(l.groups.len(), 2);
        for z in 2..=11u8 {
            let n = 1u32 << z;
            for (x, y) in [(0, 0), (n - 1, n - 1), (n / 3, n / 2 + 1)] {
                let t = TileCoord::new(z, x, y);
                let p = l.locate(t);
                assert!(p.is_some(), "{t} not located");
                let p = p.unwrap_or(TilePlace {
                    cog: t,
                    level: 99,
                    col: 0,
                    row: 0,
                });
                assert_eq!(l.tile_at(p.cog, p.level, p.col, p.row), Some(t), "{t}");
                let g = l.group_of(z).copied().unwrap_or(LevelGroup {
                    anchor_zoom: 0,
                    max_zoom: 0,
                });
                assert_eq!(g.level_of_zoom(z), Some(p.level));
                assert_eq!(g.zoom_of_level(p.level), Some(z));
            }
        }
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        assert_eq!(
            PyramidLayout::new(5, 3).groups,
            vec![LevelGroup {
                anchor_zoom: 3,
                max_zoom: 3
            }]
        );
        let l = PyramidLayout::new(0, 255);
        assert_eq!(l.max_zoom, MAX_ZOOM);
        assert_eq!(
            l.groups.first(),
            Some(&LevelGroup {
                anchor_zoom: 23,
                max_zoom: 30
            })
        );
        assert_eq!(cog_key(TileCoord::new(9, 3, 4)), "cog/9/3/4.tif");
    }
}

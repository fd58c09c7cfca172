use serde::{Deserialize, Serialize};

use crate::mercator::MAX_ZOOM;

/// One XYZ tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TileCoord {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

impl TileCoord {
    pub fn new(z: u8, x: u32, y: u32) -> TileCoord {
        TileCoord { z, x, y }
    }

    /// A coordinate from untrusted input: `None` unless z ≤ 30 and x, y < 2^z.
    pub fn checked(z: u32, x: u64, y: u64) -> Option<TileCoord> {
        let z = u8::try_from(z).ok().filter(|z| *z <= MAX_ZOOM)?;
        let n = 1u64 << z;
        (x < n && y < n).then(|| TileCoord::new(z, x as u32, y as u32))
    }

    /// The tile at `zoom` (≤ self.z) that contains this one.
    pub fn ancestor(self, zoom: u8) -> TileCoord {
        let d = self.z.saturating_sub(zoom);
        TileCoord::new(self.z - d, self.x >> d, self.y >> d)
    }

    pub fn parent(self) -> Option<TileCoord> {
        (self.z > 0).then(|| self.ancestor(self.z - 1))
    }

    /// The four children, in row-major order (NW, NE, SW, SE).
    pub fn children(self) -> [TileCoord; 4] {
        let (z, x, y) = (self.z + 1, self.x * 2, self.y * 2);
        [
            TileCoord::new(z, x, y),
            TileCoord::new(z, x + 1, y),
            TileCoord::new(z, x, y + 1),
            TileCoord::new(z, x + 1, y + 1),
        ]
    }

    /// The tiles this one covers at a deeper `zoom`.
    pub fn range_at(self, zoom: u8) -> TileRange {
        let d = zoom.saturating_sub(self.z);
        let (x0, y0) = (self.x << d, self.y << d);
        let n = (1u32 << d) - 1;
        TileRange {
            z: self.z + d,
            x0,
            y0,
            x1: x0 + n,
            y1: y0 + n,
        }
    }
}

impl std::fmt::Display for TileCoord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

/// An inclusive rectangle of tiles at one zoom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TileRange {
    pub z: u8,
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

impl TileRange {
    pub fn width(&self) -> u32 {
        self.x1 - self.x0 + 1
    }

    pub fn height(&self) -> u32 {
        self.y1 - self.y0 + 1
    }

    pub fn count(&self) -> u64 {
        u64::from(self.width()) * u64::from(self.height())
    }

    pub fn contains(&self, t: TileCoord) -> bool {
        t.z == self.z && (self.x0..=self.x1).contains(&t.x) && (self.y0..=self.y1).contains(&t.y)
    }

    /// Row-major iteration.
    pub fn iter(&self) -> impl Iterator<Item = TileCoord> + '_ {
        (self.y0..=self.y1)
            .flat_map(move |y| (self.x0..=self.x1).map(move |x| TileCoord::new(self.z, x, y)))
    }

    /// The same area one zoom up (coarser).
    pub fn parent_range(&self) -> Option<TileRange> {
        (self.z > 0).then(|| TileRange {
            z: self.z - 1,
            x0: self.x0 / 2,
            y0: self.y0 / 2,
            x1: self.x1 / 2,
            y1: self.y1 / 2,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family() {
        let t = TileCoord::new(3, 5, 2);
        assert_eq!(t.parent(), Some(TileCoord::new(2, 2, 1)));
        assert!(t.children().iter().all(|c| c.parent() == Some(t)));
        assert_eq!(t.range_at(5).count(), 16);
        assert_eq!(
            TileCoord::new(9, 300, 200).ancestor(3),
            TileCoord::new(3, 4, 3)
        );
        assert_eq!(TileCoord::new(0, 0, 0).parent(), None);
    }

    #[test]
    fn checked_rejects_out_of_grid() {
        assert!(TileCoord::checked(2, 3, 3).is_some());
        assert!(TileCoord::checked(2, 4, 0).is_none());
        assert!(TileCoord::checked(31, 0, 0).is_none());
        assert!(TileCoord::checked(300, 0, 0).is_none());
    }

    #[test]
    fn range_iteration_is_row_major() {
        let r = TileRange {
            z: 4,
            x0: 1,
            y0: 2,
            x1: 2,
            y1: 3,
        };
        let v: Vec<_> = r.iter().map(|t| (t.x, t.y)).collect();
        assert_eq!(v, vec![(1, 2), (2, 2), (1, 3), (2, 3)]);
        assert_eq!(
            r.parent_range(),
            Some(TileRange {
                z: 3,
                x0: 0,
                y0: 1,
                x1: 1,
                y1: 1
            })
        );
    }
}

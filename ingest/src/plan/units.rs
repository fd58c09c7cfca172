//! Cutting a layer into independent work units: one per COG.
//!
//! Stage 0 builds the finest level group: one unit per anchor tile that a source touches,
//! holding the sources it reads (in list order, for `--merge`). Each later stage builds the
//! next coarser group from the previous stage's COGs: a unit per anchor tile of that group,
//! whose leaves are the coarsest tiles of its children's COGs, read back from the store. So a
//! unit needs only its sources, or its children's finished objects, never another unit's
//! memory, and units of one stage may run anywhere in any order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tilefn_raster::{TileCoord, mercator};

use super::SourceHeader;
use super::grid::Grid;

/// One unit of work: the COG anchored at `anchor`, in group `stage` of the layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unit {
    pub index: usize,
    pub stage: usize,
    pub anchor: TileCoord,
    /// Stage 0: indices into the plan's sources, in list order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<u32>,
    /// Later stages: the units of the previous stage under this anchor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<usize>,
}

/// The units of every stage, and each stage's unit indices.
pub fn cut(grid: &Grid, sources: &[SourceHeader]) -> (Vec<Unit>, Vec<Vec<usize>>) {
    let Some(finest) = grid.groups.first() else {
        return (Vec::new(), Vec::new());
    };
    // BTreeMap: units come out in tile order, so two plans of the same inputs are the same.
    let mut first: BTreeMap<TileCoord, Vec<u32>> = BTreeMap::new();
    for (i, s) in sources.iter().enumerate() {
        let mut anchors: Vec<TileCoord> = s
            .parts
            .iter()
            .filter_map(|p| mercator::tile_range(p, finest.anchor_zoom))
            .flat_map(|r| r.iter().collect::<Vec<_>>())
            .filter(|t| s.touches(*t))
            .collect();
        anchors.sort_unstable();
        anchors.dedup();
        for t in anchors {
            first.entry(t).or_default().push(i as u32);
        }
    }
    let mut units: Vec<Unit> = first
        .into_iter()
        .enumerate()
        .map(|(index, (anchor, sources))| Unit {
            index,
            stage: 0,
            anchor,
            sources,
            children: Vec::new(),
        })
        .collect();
    let mut stages = vec![(0..units.len()).collect::<Vec<_>>()];
    for (stage, group) in grid.groups.iter().enumerate().skip(1) {
        let mut parents: BTreeMap<TileCoord, Vec<usize>> = BTreeMap::new();
        for &child in stages.last().map(Vec::as_slice).unwrap_or_default() {
            if let Some(u) = units.get(child) {
                let parent = u.anchor.ancestor(group.anchor_zoom);
                parents.entry(parent).or_default().push(child);
            }
        }
        let start = units.len();
        units.extend(
            parents
                .into_iter()
                .enumerate()
                .map(|(i, (anchor, children))| Unit {
                    index: start + i,
                    stage,
                    anchor,
                    sources: Vec::new(),
                    children,
                }),
        );
        stages.push((start..units.len()).collect());
    }
    (units, stages)
}

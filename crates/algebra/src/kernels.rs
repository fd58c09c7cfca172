//! The evaluator's passes as [`Kernel`]s, run through [`vectorised`]: on AVX2 CPUs each works
//! on four values per instruction. One struct per loop shape, because the loop must be
//! inlined into the AVX2 copy and a closure handed to `vectorised` is not (see
//! `tilefn_raster::Kernel`); the per-value functions they take (`a + b`, `f64::sqrt`) are.

use tilefn_raster::{Kernel, vectorised};

/// `values[i] = f(values[i])`.
pub(crate) fn map_in_place(values: &mut [f64], f: impl Fn(f64) -> f64) {
    struct K<'a, F>(&'a mut [f64], F);
    impl<F: Fn(f64) -> f64> Kernel for K<'_, F> {
        type Output = ();
        #[inline(always)]
        fn run(self) {
            self.0.iter_mut().for_each(|x| *x = (self.1)(*x));
        }
    }
    vectorised(K(values, f));
}

/// `f(values[i])` into a new buffer.
pub(crate) fn map_into(values: &[f64], f: impl Fn(f64) -> f64) -> Vec<f64> {
    struct K<'a, F>(&'a [f64], F);
    impl<F: Fn(f64) -> f64> Kernel for K<'_, F> {
        type Output = Vec<f64>;
        #[inline(always)]
        fn run(self) -> Vec<f64> {
            self.0.iter().map(|x| (self.1)(*x)).collect()
        }
    }
    vectorised(K(values, f))
}

/// `acc[i] = f(acc[i], other[i])` over the shorter of the two.
pub(crate) fn zip_in_place(acc: &mut [f64], other: &[f64], f: impl Fn(f64, f64) -> f64) {
    struct K<'a, F>(&'a mut [f64], &'a [f64], F);
    impl<F: Fn(f64, f64) -> f64> Kernel for K<'_, F> {
        type Output = ();
        #[inline(always)]
        fn run(self) {
            let f = self.2;
            self.0
                .iter_mut()
                .zip(self.1)
                .for_each(|(a, b)| *a = f(*a, *b));
        }
    }
    vectorised(K(acc, other, f));
}

/// `f(x[i], y[i])` into a new buffer, over the shorter of the two.
pub(crate) fn zip_into(x: &[f64], y: &[f64], f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    struct K<'a, F>(&'a [f64], &'a [f64], F);
    impl<F: Fn(f64, f64) -> f64> Kernel for K<'_, F> {
        type Output = Vec<f64>;
        #[inline(always)]
        fn run(self) -> Vec<f64> {
            let f = self.2;
            self.0.iter().zip(self.1).map(|(a, b)| f(*a, *b)).collect()
        }
    }
    vectorised(K(x, y, f))
}

/// `acc[i] &= other[i]`.
pub(crate) fn and_in_place(acc: &mut [bool], other: &[bool]) {
    struct K<'a>(&'a mut [bool], &'a [bool]);
    impl Kernel for K<'_> {
        type Output = ();
        #[inline(always)]
        fn run(self) {
            self.0.iter_mut().zip(self.1).for_each(|(a, b)| *a &= *b);
        }
    }
    vectorised(K(acc, other));
}

/// `x[i] & y[i]` into a new buffer.
pub(crate) fn and_into(x: &[bool], y: &[bool]) -> Vec<bool> {
    struct K<'a>(&'a [bool], &'a [bool]);
    impl Kernel for K<'_> {
        type Output = Vec<bool>;
        #[inline(always)]
        fn run(self) -> Vec<bool> {
            self.0.iter().zip(self.1).map(|(a, b)| *a & *b).collect()
        }
    }
    vectorised(K(x, y))
}

/// `valid[i] &= !values[i].is_nan()`: NaN results are nodata.
pub(crate) fn invalidate_nan(valid: &mut [bool], values: &[f64]) {
    struct K<'a>(&'a mut [bool], &'a [f64]);
    impl Kernel for K<'_> {
        type Output = ();
        #[inline(always)]
        fn run(self) {
            self.0
                .iter_mut()
                .zip(self.1)
                .for_each(|(ok, v)| *ok &= !v.is_nan());
        }
    }
    vectorised(K(valid, values));
}

//! Process-wide allocator settings, applied once by the binary before anything else runs.

/// Bytes glibc keeps at the top of each heap when it grows or trims one, instead of the
/// default 128 KiB.
///
/// Every micro-batch allocates and frees tens of megabytes of Arrow and Parquet buffers. With the
/// default, the freed top of a heap goes back to the kernel and the next batch faults it back in,
/// zeroed: ~10 % of a replay's CPU (`docs/benchmarks.md`).
pub const HEAP_TOP_PAD_BYTES: i32 = 32 << 20;

/// Allocations from this size up are mapped on their own and unmapped when freed. Setting any
/// malloc parameter freezes glibc's adaptive threshold at its 128 KiB start, which would send
/// every large buffer to the kernel and back; this is where the adaptive one ends up (its cap).
pub const MMAP_THRESHOLD_BYTES: i32 = 32 << 20;

/// Applies [`HEAP_TOP_PAD_BYTES`] and [`MMAP_THRESHOLD_BYTES`] where the allocator is glibc's,
/// and says whether it did. Other allocators keep their own policy.
pub fn tune_allocator() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::ffi::c_int;
        const M_TOP_PAD: c_int = -2;
        const M_MMAP_THRESHOLD: c_int = -3;
        unsafe extern "C" {
            fn mallopt(param: c_int, value: c_int) -> c_int;
        }
        // SAFETY: `mallopt` is glibc's, with this signature; it only changes a malloc parameter,
        // under malloc's own lock.
        unsafe { mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1 && mallopt(M_TOP_PAD, HEAP_TOP_PAD_BYTES) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_accepts_the_settings() {
        assert!(super::tune_allocator());
    }
}

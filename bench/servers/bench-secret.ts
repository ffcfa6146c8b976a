/** The HS256 secret the benchmark and soak servers verify tokens with (loopback only; never a real secret). */
export const BENCH_SECRET = 'bench-secret-that-is-long-enough-0123456789';

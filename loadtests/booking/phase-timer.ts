/** Where the time of a booking goes: sums the phase timings the booking service reports. */
export function phaseTimer() {
  const totals = new Map<string, number>();
  return {
    observe: (phase: string, ms: number) => totals.set(phase, (totals.get(phase) ?? 0) + ms),
    reset: () => totals.clear(),
    /** Mean wall time per booking in each phase (phases of concurrent bookings overlap in time). */
    report: (bookings: number) =>
      Object.fromEntries([...totals].map(([k, v]) => [k, Math.round((v / bookings) * 100) / 100])),
  };
}

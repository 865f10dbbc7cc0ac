import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startIdentityHarness, type IdentityHarness } from '../../test/helpers/identity.ts';
import { schedulingClinic, type SchedulingClinic } from '../../test/helpers/scheduling.ts';

describe('authenticate middleware', () => {
  let h: IdentityHarness;
  let c: SchedulingClinic;
  beforeAll(async () => {
    h = await startIdentityHarness();
    c = await schedulingClinic(h);
  });
  afterAll(() => h.close());

  it('checks the session once per request, also where two sub-apps share a prefix (/api/doctors)', async () => {
    const validate = vi.spyOn(h.identity.sessions, 'validate');
    try {
      // Served by the calendar-feed sub-app, mounted on /doctors next to the doctors' routes.
      const feed = await h.call('GET', `/api/doctors/${c.doctor.id}/calendar-feed`, {
        token: c.doctor.token,
      });
      expect(feed.status).toBe(200);
      expect(validate).toHaveBeenCalledTimes(1);
      const schedule = await h.call(
        'GET',
        `/api/doctors/${c.doctor.id}/schedule?from=2027-01-01&to=2027-01-31`,
        { token: c.doctor.token },
      );
      expect(schedule.status).toBe(200);
      expect(validate).toHaveBeenCalledTimes(2);
    } finally {
      validate.mockRestore();
    }
  });

  it('still refuses a request without a token on both sub-apps', async () => {
    expect((await h.call('GET', `/api/doctors/${c.doctor.id}/calendar-feed`, {})).status).toBe(401);
    expect(
      (await h.call('GET', `/api/doctors/${c.doctor.id}/schedule?from=2027-01-01&to=2027-01-31`, {})).status,
    ).toBe(401);
  });
});

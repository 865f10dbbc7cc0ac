import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { widgetSettings } from '../../db/schema/index.ts';

export type WidgetSettingsView = {
  allowedOrigins: string[];
  accentColor: string | null;
  logoText: string | null;
};

/** A clinic without a row allows no site and uses CareCall's own colours. */
const DEFAULTS: WidgetSettingsView = { allowedOrigins: [], accentColor: null, logoText: null };

export class WidgetSettings {
  constructor(private readonly db: Db) {}

  async get(clinicId: string): Promise<WidgetSettingsView> {
    const [row] = await this.db.select().from(widgetSettings).where(eq(widgetSettings.clinicId, clinicId));
    if (!row) return { ...DEFAULTS };
    return { allowedOrigins: row.allowedOrigins, accentColor: row.accentColor, logoText: row.logoText };
  }

  async put(clinicId: string, input: WidgetSettingsView): Promise<WidgetSettingsView> {
    const values = {
      allowedOrigins: [...new Set(input.allowedOrigins)],
      accentColor: input.accentColor,
      logoText: input.logoText,
      updatedAt: new Date(),
    };
    await this.db
      .insert(widgetSettings)
      .values({ clinicId, ...values })
      .onConflictDoUpdate({ target: widgetSettings.clinicId, set: values });
    return this.get(clinicId);
  }

  async allows(clinicId: string, origin: string): Promise<boolean> {
    return (await this.get(clinicId)).allowedOrigins.includes(origin);
  }
}

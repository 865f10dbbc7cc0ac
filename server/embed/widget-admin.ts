import type { AuditLog } from '../audit/audit-log.ts';
import type { Policy } from '../policy/policy.ts';
import type { Actor } from '../policy/types.ts';
import type { ApiKeys, ApiKeyScope } from './api-keys.ts';
import type { WidgetSettings, WidgetSettingsView } from './widget-settings.ts';

type Deps = { policy: Policy; audit: AuditLog; apiKeys: ApiKeys; settings: WidgetSettings };

/** A clinic admin's API keys and widget settings: decided by the policy, each change audited. */
export class WidgetAdministration {
  constructor(private readonly deps: Deps) {}

  forActor(actor: Actor) {
    return new WidgetAdministrator(this.deps, actor);
  }
}

export class WidgetAdministrator {
  constructor(
    private readonly deps: Deps,
    readonly actor: Actor,
  ) {}

  async createKey(clinicId: string, body: { label: string; scopes: ApiKeyScope[] }) {
    await this.#may('clinic.api_keys.manage', clinicId);
    const key = await this.deps.apiKeys.create({ clinicId, ...body, createdBy: this.actor.userId });
    await this.#record('api_key.created', clinicId, 'api_key', key.id);
    return key;
  }

  async listKeys(clinicId: string) {
    await this.#may('clinic.api_keys.manage', clinicId);
    return this.deps.apiKeys.list(clinicId);
  }

  async revokeKey(clinicId: string, keyId: string) {
    await this.#may('clinic.api_keys.manage', clinicId);
    const { revoked } = await this.deps.apiKeys.revoke(clinicId, keyId, this.actor.userId);
    // Repeating the DELETE answers the same and records nothing.
    if (revoked) await this.#record('api_key.revoked', clinicId, 'api_key', keyId);
  }

  async settings(clinicId: string) {
    await this.#may('clinic.widget.configure', clinicId);
    return this.deps.settings.get(clinicId);
  }

  async updateSettings(clinicId: string, body: WidgetSettingsView) {
    await this.#may('clinic.widget.configure', clinicId);
    const saved = await this.deps.settings.put(clinicId, body);
    await this.#record('widget.settings_updated', clinicId, 'clinic', clinicId);
    return saved;
  }

  #may(action: 'clinic.api_keys.manage' | 'clinic.widget.configure', clinicId: string) {
    return this.deps.policy.require(this.actor, action, { type: 'clinic', clinicId });
  }

  #record(
    action: 'api_key.created' | 'api_key.revoked' | 'widget.settings_updated',
    clinicId: string,
    resourceType: string,
    resourceId: string,
  ) {
    return this.deps.audit.record({ action, outcome: 'allowed', resourceType, resourceId, clinicId });
  }
}

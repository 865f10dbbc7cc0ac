import type { DeferredInput } from '../api/validation.ts';
import type { Policy } from '../policy/policy.ts';
import type { Actor } from '../policy/types.ts';
import type { ClinicSchedulingService, ConsultTypePatch, SchedulingSettings } from './clinic-settings.ts';

type Deps = { policy: Policy; clinics: ClinicSchedulingService };
type NewConsultType = Parameters<ClinicSchedulingService['createConsultType']>[1];

/** A clinic's approval and reminder settings, consult types and prices, decided per caller. */
export class ClinicSchedulingAdministration {
  constructor(private readonly deps: Deps) {}

  forActor(actor: Actor): ClinicSchedulingAdmin {
    return new ClinicSchedulingAdmin(this.deps, actor);
  }
}

export class ClinicSchedulingAdmin {
  constructor(
    private readonly deps: Deps,
    readonly actor: Actor,
  ) {}

  #require(
    action: 'clinic.consult_types.list' | 'clinic.consult_types.manage' | 'clinic.scheduling.configure',
    clinicId: string,
  ) {
    return this.deps.policy.require(this.actor, action, { type: 'clinic', clinicId });
  }

  async settings(clinicId: string) {
    await this.#require('clinic.consult_types.list', clinicId);
    return this.deps.clinics.settings(clinicId);
  }

  async updateSettings(clinicId: string, input: DeferredInput<Partial<SchedulingSettings>>) {
    await this.#require('clinic.scheduling.configure', clinicId);
    return this.deps.clinics.updateSettings(clinicId, await input());
  }

  /** Retired types matter only to whoever may bring them back: asking for them takes that right. */
  async consultTypes(clinicId: string, query: DeferredInput<{ includeInactive: boolean }>) {
    await this.#require('clinic.consult_types.list', clinicId);
    const { includeInactive } = await query();
    if (includeInactive) await this.#require('clinic.consult_types.manage', clinicId);
    return this.deps.clinics.listConsultTypes(clinicId, { includeInactive });
  }

  async createConsultType(clinicId: string, input: DeferredInput<NewConsultType>) {
    await this.#require('clinic.consult_types.manage', clinicId);
    return this.deps.clinics.createConsultType(clinicId, await input());
  }

  async updateConsultType(clinicId: string, consultTypeId: string, input: DeferredInput<ConsultTypePatch>) {
    await this.#require('clinic.consult_types.manage', clinicId);
    return this.deps.clinics.updateConsultType(clinicId, consultTypeId, await input());
  }
}

import type { AppointmentStatus } from '../../db/schema/index.ts';
import type { Action } from '../policy/actions.ts';

/** requested -> confirmed -> checked_in -> in_call -> completed, with cancelled / no_show exits. */
export const TRANSITIONS: Record<AppointmentStatus, readonly AppointmentStatus[]> = {
  requested: ['confirmed', 'cancelled'],
  confirmed: ['checked_in', 'cancelled', 'no_show'],
  checked_in: ['in_call', 'cancelled', 'no_show'],
  in_call: ['completed'],
  completed: [],
  cancelled: [],
  no_show: [],
};

export type TargetStatus = Exclude<AppointmentStatus, 'requested'>;

/** The policy action that guards moving an appointment into each status. */
export const ACTION_FOR_TARGET: Record<TargetStatus, Action> = {
  confirmed: 'appointment.confirm',
  checked_in: 'appointment.check_in',
  in_call: 'appointment.start',
  completed: 'appointment.complete',
  cancelled: 'appointment.cancel',
  no_show: 'appointment.no_show',
};

export const canTransition = (from: AppointmentStatus, to: AppointmentStatus) =>
  TRANSITIONS[from].includes(to);

/** Statuses in which the time can still be moved. */
export const RESCHEDULABLE: readonly AppointmentStatus[] = ['requested', 'confirmed'];

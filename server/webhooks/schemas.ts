import { z } from 'zod';
import { WEBHOOK_DELIVERY_STATUSES } from '../../db/schema/index.ts';
import { idSchema, text } from '../api/validation.ts';

export const clinicParam = z.object({ clinicId: idSchema });
export const endpointParam = z.object({ clinicId: idSchema, endpointId: idSchema });
export const deliveryParam = z.object({
  clinicId: idSchema,
  endpointId: idSchema,
  deliveryId: z.string().regex(/^msg_[0-9a-f]{32}$/, 'not a delivery id'),
});

// URLs and event names are checked by the service (typed 422s naming the rule); here only their shape.
const url = z.string({ message: 'must be a string' }).min(1, 'required').max(4096, 'too long');
const events = z
  .array(z.string().max(64, 'too long'), { message: 'must be a list of event names' })
  .min(1, 'subscribe to at least one event')
  .max(32, 'at most 32 events');

export const endpointBody = z.strictObject({
  url,
  events,
  description: text({ max: 200 }).optional(),
  enabled: z.boolean().optional(),
  includePhi: z.boolean().optional(),
});

export const endpointPatchBody = endpointBody.partial().refine((p) => Object.keys(p).length > 0, {
  message: 'name at least one setting to change',
});

export const deliveriesQuery = z.strictObject({
  status: z.enum(WEBHOOK_DELIVERY_STATUSES).optional(),
  before: z.iso
    .datetime({ offset: true })
    .transform((s) => new Date(s))
    .optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

import { z } from 'zod';
import { idSchema } from '../api/validation.ts';

export const fileParam = z.object({ fileId: idSchema });

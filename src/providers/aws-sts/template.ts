// The broker.yaml shape of an aws_sts template: the role to assume and the actions/resources ceiling.
import { z } from 'zod';
import { templateTtls } from '../../core/duration.js';

export const awsStsTemplateSchema = z.strictObject({
  provider: z.literal('aws_sts'),
  role_arn: z
    .string()
    .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\-/]{1,512}$/, 'must be an IAM role ARN'),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1'),
  actions: z
    .array(z.string().regex(/^([a-z0-9-]+:[A-Za-z0-9*?]+|\*)$/, 'must be an IAM action such as s3:GetObject'))
    .min(1),
  resources: z.array(z.string().min(1)).min(1),
  ...templateTtls,
});

import { definePolicies } from '@retention/policy';

/** What the ml-data service keeps, for how long and why. */
export const policies = definePolicies({
  service: 'ml-data',
  subjects: {
    user: [
      { table: 'training_records', column: 'user_id', action: 'delete', files: { column: 'artifact_path' } },
      { table: 'inference_logs', column: 'user_id', action: 'delete' },
    ],
  },
  rules: [
    {
      name: 'training_records',
      table: 'training_records',
      timestampColumn: 'created_at',
      retention: { days: 90 },
      action: 'delete',
      files: { column: 'artifact_path' },
      legalBasis: 'Consent (model improvement): training examples kept 90 days',
    },
    {
      name: 'inference_logs',
      table: 'inference_logs',
      timestampColumn: 'created_at',
      retention: { days: 30 },
      action: 'delete',
      legalBasis: 'Legitimate interest (debugging, drift monitoring): 30 days',
    },
  ],
  directories: [
    {
      name: 'model_artifacts',
      path: 'models',
      retention: { days: 90 },
      suffixes: ['.pt', '.pth', '.onnx', '.safetensors', '.bin', '.pkl'],
      legalBasis: 'Storage limitation: models trained on personal data are retired after 90 days',
    },
  ],
});

export { mlDataService } from './service';
export { InferenceLog, TrainingRecord } from './entities';
export { seedDemoData } from './demo-data';

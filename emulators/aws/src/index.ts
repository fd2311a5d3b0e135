export {
  startEmulator,
  type EmulatorConfig,
  type EmulatorDeps,
  type EmulatorOptions,
  type RunningEmulator,
} from './start.js';
export { buildServer, type Exchange, type ServerDeps } from './server.js';
export { EmulatorCore, type CallContext } from './core.js';
export {
  EVENT_SOURCE,
  lifecycleEvents,
  type Delivery,
  type EventTarget,
  type LifecycleChange,
  type MarketplaceEvent,
} from './services/events.js';
export { FINAL_USAGE_WINDOW_MS } from './services/licenses.js';
export type { SecondCount } from './services/quota.js';
export { TOKEN_TTL_MS } from './services/registration.js';
export { AwsError } from './aws-error.js';
export { systemClock, hourStart, timestampOutOfBounds, type Clock } from './clock.js';
export {
  faultsSchema,
  type Faults,
  type BillingRecord,
  type Subscription,
  type RegistrationToken,
  type TrailEvent,
  type State,
} from './state.js';
export {
  validateShape,
  validationMessage,
  type ServiceModel,
  type Shape,
  type Violation,
} from './model/validator.js';
export { MODELS } from './model/shapes.js';

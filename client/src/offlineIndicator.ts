// The status bar's Hub indicator: says whether the Hub is asked about models that are not on this
// machine (online, offline by setting or environment, unreachable); a click toggles `lineage.offline`.
import * as vscode from 'vscode';
import type { HubStateParams } from '../../server/src/protocol';
import { Commands, CONFIGURATION_SECTION } from './constants';

const LOOKS: Readonly<Record<HubStateParams['state'], { icon: string; text: string; action: string }>> = {
  online: { icon: '$(cloud)', text: 'Hub', action: 'Click to work offline (lineage.offline).' },
  offline: { icon: '$(cloud-offline)', text: 'Offline', action: 'Click to ask the Hub again.' },
  'offline-environment': { icon: '$(cloud-offline)', text: 'Offline (HF_HUB_OFFLINE)', action: 'Unset HF_HUB_OFFLINE for the editor to ask the Hub.' },
  unreachable: { icon: '$(cloud-offline)', text: 'Hub unreachable', action: 'Click to work offline (lineage.offline) and stop asking.' },
};

export class OfflineIndicator implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('lineage.hub', vscode.StatusBarAlignment.Left, 9);
  state: HubStateParams['state'] | undefined;

  constructor() {
    this.item.name = 'Lineage Lens: Hub';
    this.item.command = Commands.toggleOffline;
    this.show({ state: vscode.workspace.getConfiguration(CONFIGURATION_SECTION).get<boolean>('offline') ? 'offline' : 'online', detail: '' });
  }

  show(params: HubStateParams): void {
    this.state = params.state;
    const look = LOOKS[params.state];
    this.item.text = `${look.icon} ${look.text}`;
    this.item.tooltip = [params.detail, look.action].filter((line) => line !== '').join('\n');
    this.item.accessibilityInformation = { label: `Lineage Lens: ${look.text}. ${look.action}`, role: 'button' };
    this.item.backgroundColor = params.state === 'unreachable' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.show();
  }

  get text(): string {
    return this.item.text;
  }

  dispose(): void {
    this.item.dispose();
  }
}

/** Flips `lineage.offline` where it is set (workspace folder, workspace), else in the user settings. */
export async function toggleOffline(): Promise<boolean> {
  const configuration = vscode.workspace.getConfiguration(CONFIGURATION_SECTION);
  const inspected = configuration.inspect<boolean>('offline');
  const next = !(configuration.get<boolean>('offline') ?? false);
  const target = inspected?.workspaceFolderValue !== undefined ? vscode.ConfigurationTarget.WorkspaceFolder : inspected?.workspaceValue !== undefined ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await configuration.update('offline', next, target);
  return next;
}

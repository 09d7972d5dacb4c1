// ApprovalFunctions — Azure resources for the Functions isolated-worker + Durable Functions host.
//
// Deploy (see docs/deploy.md):
//   az group create -n rg-approvals -l swedencentral
//   az deployment group create -g rg-approvals -f infra/main.bicep -p infra/main.parameters.json
//   func azure functionapp publish <functionAppName output> --dotnet-isolated
//
// Based on upstream samples read through the project's search tool (not written from memory):
//   - Azure-Samples/azure-functions-flex-consumption-samples
//       IaC/bicep/core/host/function.bicep   @ bcf2116535765a25903b96b846568bcd867bd8cd
//         (plan FC1/FlexConsumption, site kind 'functionapp,linux', SystemAssigned identity,
//          functionAppConfig.deployment.storage with SystemAssignedIdentity, AzureWebJobsStorage__accountName)
//       IaC/bicep/rbac.bicep                 @ 99f5dd54841536a6125e12c6c953ad5885a189c0 (role definition GUIDs)
//       IaC/bicep/core/monitor/loganalytics.bicep @ ec5ba183e89569f58771dfb5f3a6c41fca37269b
//       IaC/bicep/core/storage/storage-account.bicep @ a866f5e212700abe85f86f0dc8c8c846b9d6f6f3
//       starters/http/dotnet/infra/core/monitor/applicationinsights.bicep @ 4270b03a9a7a35f7d14ef140268a3db3d84355ed
//       starters/http/dotnet/infra/core/host/functions-flexconsumption.bicep @ 2d7ba25a3a9595cd2f5a995aa6a874dec52cdf18
//         (AzureWebJobsStorage__credential: 'managedidentity')
//       E2E/DURABLE-FUNC-ORDER-PROCESSING/infra/main.bicep @ dcb2429d31176907667d81fd995e2af41083edfd
//         (Durable Functions on Flex with identity: Blob Owner + Queue + Table Data Contributor)
//   - Azure-Samples/functions-quickstart-dotnet-azd infra/main.bicep @ e72a3d496b003f7116c04767de8796708b72e724
//       (allowSharedKeyAccess: false, minimumTlsVersion 'TLS1_2', deployment container naming)
//
// Not linted here: neither `az` nor `bicep` is installed on the machine this was written on.

targetScope = 'resourceGroup'

@description('Azure region; defaults to the resource group\'s. Flex Consumption is not offered in every region.')
param location string = resourceGroup().location

@minLength(3)
@maxLength(12)
@description('Short lowercase prefix used in every resource name.')
param namePrefix string = 'approvals'

@description('Function app name (globally unique: it becomes <name>.azurewebsites.net).')
param functionAppName string = '${namePrefix}-func-${uniqueString(resourceGroup().id)}'

@maxLength(24)
@description('Storage account name (3-24 lowercase letters and digits, globally unique).')
param storageAccountName string = take('st${toLower(replace(namePrefix, '-', ''))}${uniqueString(resourceGroup().id)}', 24)

@description('Functions runtime stack; the project is an isolated-worker .NET app.')
param functionAppRuntime string = 'dotnet-isolated'

// The Azure-Samples templates read for this file list '8.0' (and '9.0') for dotnet-isolated; none of the
// Azure-Samples versions read lists '10.0'. Public Flex templates that target net10.0 use '10.0'
// (not '10': one reports ARM accepts '10' but the host then fails to start). Check
// `az functionapp list-flexconsumption-runtimes` for the region before deploying.
@description('Runtime version in functionAppConfig.runtime.version; must match the project TargetFramework (net10.0).')
param functionAppRuntimeVersion string = '10.0'

@minValue(40)
@maxValue(1000)
@description('Upper bound on Flex Consumption scale-out.')
param maximumInstanceCount int = 100

@allowed([2048, 4096])
@description('Instance memory size in MB.')
param instanceMemoryMB int = 2048

@description('Entra ID authority the API validates bearer tokens against, e.g. https://login.microsoftonline.com/<tenant-id>/v2.0')
param authAuthority string

@description('Audience (Application ID URI or client id) of the API app registration, e.g. api://approvals')
param authAudience string

@description('Log Analytics retention in days.')
param logRetentionInDays int = 30

@description('Tags applied to every resource.')
param tags object = {
  app: 'ApprovalFunctions'
}

var logAnalyticsName = '${namePrefix}-log-${uniqueString(resourceGroup().id)}'
var applicationInsightsName = '${namePrefix}-appi-${uniqueString(resourceGroup().id)}'
var planName = '${namePrefix}-plan-${uniqueString(resourceGroup().id)}'
// Same shape as the Azure-Samples templates: container name ≤ 63 chars, lowercase.
var deploymentStorageContainerName = 'app-package-${take(toLower(functionAppName), 32)}-${take(uniqueString(functionAppName, resourceGroup().id), 7)}'

// Built-in role definition ids, copied from Azure-Samples/azure-functions-flex-consumption-samples
// IaC/bicep/rbac.bicep (and the same GUIDs in E2E/DURABLE-FUNC-ORDER-PROCESSING/infra/main.bicep).
var roleDefinitions = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

// ---------------------------------------------------------------- monitoring

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2025-02-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: any({
    retentionInDays: logRetentionInDays
    features: {
      searchVersion: 1
    }
    sku: {
      name: 'PerGB2018'
    }
  })
}

// Workspace-based Application Insights. Local (connection-string) ingestion stays enabled: the
// upstream system-assigned sample (IaC/bicep/core/host/function.bicep) sets only
// APPLICATIONINSIGHTS_CONNECTION_STRING. Turning DisableLocalAuth on also needs the Entra
// ingestion setting on the app; see docs/deploy.md "Hardening".
resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
  }
}

// ---------------------------------------------------------------- storage

// One account serves the Functions host (AzureWebJobsStorage), the Durable Functions task hub
// (queues, tables, blobs), the Flex deployment package container, and the approval stores'
// tables. Shared keys are off, so every client must use the managed identity (or, locally, Azurite).
resource storage 'Microsoft.Storage/storageAccounts@2023-01-01' = {
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    dnsEndpointType: 'Standard'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }

  resource blobServices 'blobServices' = {
    name: 'default'

    // Flex Consumption reads the app package from this container (functionAppConfig.deployment).
    resource deploymentContainer 'containers' = {
      name: deploymentStorageContainerName
      properties: {
        publicAccess: 'None'
      }
    }
  }
}

// ---------------------------------------------------------------- function app

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true // Linux
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: functionAppName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      // On Flex Consumption the worker runtime and its version live in functionAppConfig.runtime,
      // not in FUNCTIONS_WORKER_RUNTIME / FUNCTIONS_EXTENSION_VERSION app settings.
      appSettings: [
        // Identity-based host storage: the account name alone makes the host use the managed identity.
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storage.name
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: applicationInsights.properties.ConnectionString
        }
        // The approval stores use the same account's Table endpoint through the same identity
        // (Storage Table Data Contributor below); no key, no connection string.
        {
          name: 'ApprovalsStorage__tableServiceUri'
          value: storage.properties.primaryEndpoints.table
        }
        {
          name: 'Auth__Authority'
          value: authAuthority
        }
        {
          name: 'Auth__Audience'
          value: authAudience
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentStorageContainerName}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: functionAppRuntime
        version: functionAppRuntimeVersion
      }
    }
  }
}

// ---------------------------------------------------------------- role assignments
// Durable Functions' Azure Storage backend uses queues (control + work-item), tables (history,
// instances) and blobs (leases, large payloads); the host uses blobs; Flex deployment uses the
// package container; the approval stores use tables. Scope: the one storage account.

resource blobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionApp.id, roleDefinitions.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitions.storageBlobDataOwner)
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource queueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionApp.id, roleDefinitions.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitions.storageQueueDataContributor)
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource tableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionApp.id, roleDefinitions.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitions.storageTableDataContributor)
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// Harmless with local auth on; required if Application Insights local auth is later disabled.
resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, functionApp.id, roleDefinitions.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitions.monitoringMetricsPublisher)
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// ---------------------------------------------------------------- outputs

output functionAppName string = functionApp.name
output functionAppUrl string = 'https://${functionApp.properties.defaultHostName}'
output functionAppPrincipalId string = functionApp.identity.principalId
output storageAccountName string = storage.name
output tableServiceUri string = storage.properties.primaryEndpoints.table
output deploymentContainerName string = deploymentStorageContainerName
output applicationInsightsName string = applicationInsights.name

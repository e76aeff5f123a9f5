"""The headings a new draft of each kind starts with, in the company's own structure
(documents/: a regulation in chapters and articles, a process with purpose, scope,
responsibilities, related documents and records, a form with its table and notes …).
Pure: the editor offers the text when a draft's body is empty."""

from __future__ import annotations

from qms.documents.models import DocKind

_PROCEDURE = """## 一、目的

## 二、适用范围

## 三、职责

## 四、程序

## 五、相关文件

## 六、记录

| 记录名称 | 编号 | 保存部门 | 保存期限 |
|---|---|---|---|
"""

_PROCESS = """## 一、目的

## 二、适用范围

## 三、职责

## 四、相关文件

## 五、记录

| 记录名称 | 编号 | 保存部门 | 保存期限 |
|---|---|---|---|
"""

_REGULATION = """## 第一章 总则

**第一条 目的**

**第二条 适用范围**

**第三条 职责**

## 第二章 管理要求

**第四条**

## 第三章 检查与考核

**第五条**

## 第四章 附则

**第六条** 本制度由品质管理中心负责解释，自发布之日起施行。
"""

_MANUAL_SECTION = """## 第 1 章 简介

### 1.1 目的

### 1.2 适用范围

## 第 2 章 职责与权力

## 第 3 章 管理要求

## 第 4 章 相关文件
"""

_POLICY = """## 一、质量方针

## 二、质量目标

## 三、目标的分解与落实

## 四、目标的考核与评审

## 五、批准
"""

_JOB_DESCRIPTION = """## 一、岗位基本信息

| 岗位名称 | | 所属部门 | |
|---|---|---|---|
| 直接上级 | | 直接下级 | |

## 二、岗位目的

## 三、任职要求

## 四、岗位职责

## 五、工作权限

## 六、工作关系

## 七、考核要点
"""

_WORK_INSTRUCTION = """## 一、目的

## 二、适用范围

## 三、作业步骤

## 四、注意事项

## 五、记录
"""

_FORM = """## 表单名称

| 编号 | | 日期 | |
|---|---|---|---|
| | | | |

## 填写说明

1.
"""

STARTING_TEXT: dict[DocKind, str] = {
    DocKind.QUALITY_MANUAL: _MANUAL_SECTION,
    DocKind.POLICY: _POLICY,
    DocKind.PROCEDURE: _PROCEDURE,
    DocKind.REGULATION: _REGULATION,
    DocKind.PROCESS: _PROCESS,
    DocKind.JOB_DESCRIPTION: _JOB_DESCRIPTION,
    DocKind.WORK_INSTRUCTION: _WORK_INSTRUCTION,
    DocKind.FORM: _FORM,
}


def starting_text(kind: DocKind) -> str:
    """The skeleton of a kind; an external document (a law, a standard) starts empty."""
    return STARTING_TEXT.get(kind, "")

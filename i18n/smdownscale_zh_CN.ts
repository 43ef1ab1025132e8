<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
    <context>
        <name>AlignAlgorithm</name>
        <message>
            <location filename="../processing_provider/algs/align.py" line="57" />
            <source>Align rasters to a grid</source>
            <translation>将栅格对齐到格网</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="81" />
            <source>Factor rasters</source>
            <translation>因子栅格</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="84" />
            <source>Rasters to align. Each band becomes one factor of the output stack.</source>
            <translation>待对齐的栅格。每个波段成为输出堆栈中的一个因子。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="85" />
            <source>Reference raster (target grid)</source>
            <translation>参考栅格（目标格网）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="85" />
            <source>The output takes this raster's CRS, extent and pixel size. Leave empty to give a CRS, an extent and a resolution instead.</source>
            <translation>输出采用该栅格的坐标参考系、范围和像元大小。留空则改为给定坐标参考系、范围和分辨率。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="89" />
            <source>Target CRS</source>
            <translation>目标坐标参考系</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="89" />
            <source>CRS of the output grid (e.g. EPSG:6933, the SMAP EASE-Grid 2.0).</source>
            <translation>输出格网的坐标参考系（例如 EPSG:6933，即 SMAP 所用的 EASE-Grid 2.0）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="91" />
            <source>Target extent</source>
            <translation>目标范围</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="91" />
            <source>Area of the output grid, transformed into the target CRS if needed and snapped outward to whole multiples of the resolution.</source>
            <translation>输出格网的区域，必要时转换到目标坐标参考系，并向外对齐到分辨率的整数倍。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="94" />
            <source>Pixel size of the output grid in units of the target CRS (metres for a projected CRS, degrees for EPSG:4326).</source>
            <translation>输出格网的像元大小，以目标坐标参考系的单位表示（投影坐标系为米，EPSG:4326 为度）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="102" />
            <source>Aligned factors (fine grid)</source>
            <translation>对齐后的因子（精细格网）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="102" />
            <source>Multiband GeoTIFF on the target grid, one named band per factor.</source>
            <translation>目标格网上的多波段 GeoTIFF，每个因子一个命名波段。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="104" />
            <source>When given, the aligned factors are also aggregated onto this raster's grid (training data for the models).</source>
            <translation>给定时，对齐后的因子还会聚合到该栅格的格网上（作为模型的训练数据）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="109" />
            <source>Minimum valid fraction per coarse cell</source>
            <translation>每个粗像元的最小有效比例</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="109" />
            <source>A coarse cell with a smaller share of valid fine pixels becomes nodata.</source>
            <translation>有效精细像元比例低于该值的粗像元设为无数据值。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="114" />
            <source>Aggregated factors (coarse grid)</source>
            <translation>聚合后的因子（粗格网）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="114" />
            <source>The factors aggregated onto the coarse reference grid; written only when a coarse reference raster is given.</source>
            <translation>聚合到粗分辨率参考格网上的因子；仅在给定粗分辨率参考栅格时写出。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="119" />
            <source>Factor names (comma-separated)</source>
            <translation>因子名称（以逗号分隔）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="141" />
            <source>target CRS</source>
            <translation>目标坐标参考系</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="143" />
            <source>target extent</source>
            <translation>目标范围</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="145" />
            <source>target resolution</source>
            <translation>目标分辨率</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="160" />
            <source>{} is not a raster file (provider '{}'); save it as a GeoTIFF (Export &gt; Save As...) and use that file.</source>
            <translation>{} 不是栅格文件（数据提供程序为“{}”）；请将其另存为 GeoTIFF（导出 &gt; 另存为...）后使用该文件。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="189" />
            <source>Give a reference raster, or a target CRS, extent and resolution (missing: {}).</source>
            <translation>请给定参考栅格，或给定目标坐标参考系、范围和分辨率（缺少：{}）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="193" />
            <source>The target resolution must be greater than 0.</source>
            <translation>目标分辨率必须大于 0。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="220" />
            <source>Target grid: {} x {} pixels of {:g} x {:g}, extent {:.6g}, {:.6g}, {:.6g}, {:.6g}</source>
            <translation>目标格网：{} x {} 个像元，像元大小 {:g} x {:g}，范围 {:.6g}, {:.6g}, {:.6g}, {:.6g}</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="230" />
            <source>{}: {}, {} resampling, {:.1%} valid</source>
            <translation>{}：{}，{} 重采样，有效 {:.1%}</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="241" />
            <source>Aggregating onto the coarse grid ({} x {} cells)...</source>
            <translation>正在聚合到粗格网（{} x {} 个像元）...</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="252" />
            <source>Aggregated factors (coarse grid) {}</source>
            <translation>聚合后的因子（粗格网） {}</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="258" />
            <source>Aligned factors (fine grid) {}</source>
            <translation>对齐后的因子（精细格网） {}</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="214" />
            <source>The coarse reference raster {}</source>
            <translation>粗分辨率参考栅格 {}</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="214" />
            <source>Give the coarse (~9 km) SMAP raster of the area.</source>
            <translation>请给定该区域的粗分辨率（约 9 km）SMAP 栅格。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="94" />
            <source>Resolution (target CRS units)</source>
            <translation>分辨率（目标 CRS 单位）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="98" />
            <source>Categorical factors (names)</source>
            <translation>分类因子（名称）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="104" />
            <source>Coarse grid raster (e.g. SMAP)</source>
            <translation>粗网格栅格（例如 SMAP）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="60" />
            <source>Puts factor rasters (any number, single- or multi-band, in any coordinate system) on one grid and writes them as one multiband float32 GeoTIFF: every input band becomes one band, named after its band description or, failing that, the file name without its date (ndvi_20230601.tif gives 'ndvi', MOD11A1.A2023156.LST_Day_1km.tif 'MOD11A1.LST_Day_1km', chirps-v2.0.2023.06.05.tif 'chirps-v2.0'). Factor names must be unique.

The grid comes from a reference raster (e.g. a 1 km DEM), or from a CRS, an extent and a resolution (the extent is snapped outward to whole multiples of the resolution). Given together with a reference raster, CRS, extent or resolution override the reference's own.

Resampling is chosen per input from the change of scale: continuous factors use bilinear interpolation when the grid is finer than the input and the average when it is coarser; categorical factors (land cover: bands marked SMD_KIND=categorical, with a colour table, named like a land cover product (LC_Type1, landcover, lulc, lccs_class, WorldCover, CLCD, 土地利用 ...), or listed under 'Categorical factors') use the nearest pixel and the majority class. Nodata stays nodata and is ignored by averages.

With a coarse reference raster (the SMAP soil moisture raster), the aligned factors are also aggregated onto its grid: each coarse cell gets the mean of the fine pixels whose centers fall in it (the majority class for categorical factors), or nodata when fewer than the minimum valid fraction of its pixels are valid. Models are trained on this coarse stack and applied to the fine one.</source>
            <translation>将任意数量的因子栅格（单波段或多波段，任意坐标系）放到同一格网上，并写出为一个多波段 float32 GeoTIFF：每个输入波段成为一个波段，以其波段描述命名；若无波段描述，则以去掉日期的文件名命名（ndvi_20230601.tif 命名为“ndvi”，MOD11A1.A2023156.LST_Day_1km.tif 命名为“MOD11A1.LST_Day_1km”，chirps-v2.0.2023.06.05.tif 命名为“chirps-v2.0”）。因子名称必须唯一。

格网取自参考栅格（例如 1 km DEM），或由坐标参考系、范围和分辨率给定（范围向外对齐到分辨率的整数倍）。若与参考栅格同时给定，坐标参考系、范围或分辨率将覆盖参考栅格自身的设置。

每个输入的重采样方法按尺度变化选择：连续型因子在格网比输入更精细时使用双线性插值，更粗时使用均值；类别型因子（土地覆盖：标记为 SMD_KIND=categorical 的波段、带颜色表的波段、名称与土地覆盖产品相符的波段（LC_Type1、landcover、lulc、lccs_class、WorldCover、CLCD、土地利用等），或列于“类别型因子”中的因子）使用最邻近像元和众数类别。无数据值保持为无数据值，计算均值时忽略。

若给定粗分辨率参考栅格（SMAP 土壤水分栅格），对齐后的因子还会聚合到其格网上：每个粗像元取中心落在其中的精细像元的均值（类别型因子取众数类别）；若有效像元比例低于最小有效比例，则设为无数据值。模型在该粗分辨率堆栈上训练，并应用于精细分辨率堆栈。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="98" />
            <source>Factor names to treat as classes (nearest / majority resampling), besides bands already marked categorical and bands named like a land cover product.</source>
            <translation>除已标记为类别型的波段和名称与土地覆盖产品相符的波段外，另需按类别处理的因子名称（最邻近 / 众数重采样）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/align.py" line="232" />
            <source>{} holds no valid pixel on the target grid (cloud all day, or no radar overpass): it stays missing everywhere in the stack. To downscale this date, give the stacks of neighbouring dates (NEIGHBOUR_FACTORS) so the factor is taken from them; training leaves the date out.</source>
            <translation>{} 在目标网格上没有有效像元（整天有云，或当天没有雷达过境）：它在堆栈中各处均保持缺失。要对该日期降尺度，请给出相邻日期的因子堆栈（NEIGHBOUR_FACTORS），从中取得该因子；训练会略去该日期。</translation>
        </message>
    </context>
    <context>
        <name>DependenciesDialog</name>
        <message>
            <location filename="../ui/dependencies_dialog.py" line="39" />
            <source>Soil moisture downscaling — dependencies</source>
            <translation>土壤水分降尺度 — 依赖项</translation>
        </message>
        <message>
            <location filename="../ui/dependencies_dialog.py" line="44" />
            <source>Package</source>
            <translation>软件包</translation>
        </message>
        <message>
            <location filename="../ui/dependencies_dialog.py" line="44" />
            <source>Module</source>
            <translation>模块</translation>
        </message>
        <message>
            <location filename="../ui/dependencies_dialog.py" line="44" />
            <source>Needed for</source>
            <translation>用途</translation>
        </message>
        <message>
            <location filename="../ui/dependencies_dialog.py" line="44" />
            <source>Installed</source>
            <translation>已安装版本</translation>
        </message>
        <message>
            <location filename="../ui/dependencies_dialog.py" line="68" />
            <source>Install missing packages</source>
            <translation>安装缺失的软件包</translation>
        </message>
        <message>
            <location filename="../ui/dependencies_dialog.py" line="69" />
            <source>Runs pip install --user once for the missing packages, keeping the numpy and GDAL that QGIS uses.</source>
            <translation>为缺失的软件包运行一次 pip install --user，保留 QGIS 使用的 numpy 和 GDAL。</translation>
        </message>
        <message>
            <location filename="../ui/dependencies_dialog.py" line="105" />
            <source>missing ({reason})</source>
            <translation>缺失（{reason}）</translation>
        </message>
        <message>
            <location filename="../ui/dependencies_dialog.py" line="111" />
            <source>Missing: {names}. Press "Install missing packages" to install them for your user account only (QGIS's numpy and GDAL stay as they are), or run this command yourself and restart QGIS:
{command}</source>
            <translation>缺失：{names}。点击“安装缺失的软件包”仅为您的用户账号安装（QGIS 的 numpy 和 GDAL 保持不变），或自行运行以下命令后重启 QGIS：
{command}</translation>
        </message>
        <message>
            <location filename="../ui/dependencies_dialog.py" line="117" />
            <source>Every package the algorithms need is installed (Python: {python}).</source>
            <translation>各算法所需的软件包均已安装（Python：{python}）。</translation>
        </message>
        <message>
            <location filename="../ui/dependencies_dialog.py" line="152" />
            <source>Installing {packages} … this can take a few minutes.</source>
            <translation>正在安装 {packages} … 可能需要几分钟。</translation>
        </message>
        <message>
            <location filename="../ui/dependencies_dialog.py" line="168" />
            <source>Installed. The algorithms can use the new packages now.</source>
            <translation>安装完成。各算法现在即可使用新安装的软件包。</translation>
        </message>
        <message>
            <location filename="../ui/dependencies_dialog.py" line="170" />
            <source>Installed; restart QGIS so that the new packages are found.</source>
            <translation>安装完成；请重启 QGIS 以便找到新安装的软件包。</translation>
        </message>
        <message>
            <location filename="../ui/dependencies_dialog.py" line="172" />
            <source>The installation failed; pip said:</source>
            <translation>安装失败；pip 输出如下：</translation>
        </message>
        <message>
            <location filename="../ui/dependencies_dialog.py" line="72" />
            <source>Build compiled tree walker</source>
            <translation>编译决策树遍历器</translation>
        </message>
        <message>
            <location filename="../ui/dependencies_dialog.py" line="73" />
            <source>Compiles the plugin's small C tree walker with this computer's C compiler: random forests, extra trees and CART then predict several times faster, with the same values.</source>
            <translation>使用本机的 C 编译器编译插件自带的小型 C 决策树遍历器：随机森林、极端随机树和 CART 的预测将快数倍，结果完全相同。</translation>
        </message>
        <message>
            <location filename="../ui/dependencies_dialog.py" line="130" />
            <source>Tree models predict with scikit-learn: the compiled tree walker is {why}. C compiler: {compiler}.</source>
            <translation>树模型使用 scikit-learn 预测：编译版决策树遍历器{why}。C 编译器：{compiler}。</translation>
        </message>
        <message>
            <location filename="../ui/dependencies_dialog.py" line="130" />
            <source>none found</source>
            <translation>未找到</translation>
        </message>
        <message>
            <location filename="../ui/dependencies_dialog.py" line="140" />
            <source>Built: tree models now predict with the compiled tree walker.</source>
            <translation>编译完成：树模型现在使用编译版决策树遍历器预测。</translation>
        </message>
        <message>
            <location filename="../ui/dependencies_dialog.py" line="141" />
            <source>The build failed:</source>
            <translation>编译失败：</translation>
        </message>
        <message>
            <location filename="../ui/dependencies_dialog.py" line="105" />
            <source>missing</source>
            <translation>缺失</translation>
        </message>
        <message>
            <location filename="../processing_provider/i18n.py" line="32" />
            <source>screen, train, downscale</source>
            <translation>筛选、训练、降尺度</translation>
        </message>
        <message>
            <location filename="../processing_provider/i18n.py" line="32" />
            <source>model files (train, downscale)</source>
            <translation>模型文件（训练、降尺度）</translation>
        </message>
        <message>
            <location filename="../processing_provider/i18n.py" line="32" />
            <source>Earth Engine download (fetchgee)</source>
            <translation>Earth Engine 下载（fetchgee）</translation>
        </message>
        <message>
            <location filename="../processing_provider/i18n.py" line="32" />
            <source>NASA Earthdata search and login (importsmap)</source>
            <translation>NASA Earthdata 搜索与登录（importsmap）</translation>
        </message>
        <message>
            <location filename="../ui/dependencies_dialog.py" line="126" />
            <source>Tree models (random forest, extra trees, CART, gradient boosting) predict with the compiled tree walker, SVR with its compiled kernel: the same values as scikit-learn, faster.</source>
            <translation>树模型（随机森林、极端随机树、CART、梯度提升）使用编译版决策树遍历器预测，SVR 使用编译版核函数：结果与 scikit-learn 相同，速度更快。</translation>
        </message>
    </context>
    <context>
        <name>DownscaleAlgorithm</name>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="68" />
            <source>Downscale soil moisture</source>
            <translation>土壤水分降尺度</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="132" />
            <source>Model file</source>
            <translation>模型文件</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="132" />
            <source>smdownscale model (*.smdmodel)</source>
            <translation>smdownscale 模型 (*.smdmodel)</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="132" />
            <source>A .smdmodel file written by 'Train downscaling model'.</source>
            <translation>由“训练降尺度模型”写出的 .smdmodel 文件。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="136" />
            <source>Factor stack (1 km)</source>
            <translation>因子堆栈（1 km）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="136" />
            <source>Multiband raster with one named band per factor, on the 1 km grid (one date; leave empty for a time series).</source>
            <translation>1 km 格网上的多波段栅格，每个因子一个命名波段（单一日期；时间序列请留空）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="139" />
            <source>SMAP soil moisture of the factor stack's date; needed for residual correction.</source>
            <translation>与因子堆栈同一日期的 SMAP 土壤水分；残差校正需要此项。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="143" />
            <source>Residual correction</source>
            <translation>残差校正</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="129" />
            <source>Constant per coarse cell</source>
            <translation>每个粗像元取常数</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="129" />
            <source>None</source>
            <translation>无</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="164" />
            <source>Minimum soil moisture (m3/m3)</source>
            <translation>土壤水分最小值（m3/m3）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="164" />
            <source>Lower end of the physical range; smaller values are raised to it.</source>
            <translation>物理范围的下限；低于该值的结果被提高到该值。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="167" />
            <source>Maximum soil moisture (m3/m3)</source>
            <translation>土壤水分最大值（m3/m3）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="167" />
            <source>Upper end of the physical range (about the porosity); larger values are lowered to it.</source>
            <translation>物理范围的上限（约为土壤孔隙度）；高于该值的结果被降低到该值。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="191" />
            <source>Factor stacks of several dates, each with its date in the file name (YYYYMMDD or YYYY-MM-DD); one output file per date.</source>
            <translation>多个日期的因子堆栈，文件名中带有各自的日期（YYYYMMDD 或 YYYY-MM-DD）；每个日期输出一个文件。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="196" />
            <source>The SMAP rasters of the same dates (paired by the date in the file names), for residual correction.</source>
            <translation>相同日期的 SMAP 栅格（按文件名中的日期配对），用于残差校正。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="201" />
            <source>smdownscale manifest (*.json)</source>
            <translation>smdownscale 清单 (*.json)</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="201" />
            <source>The manifest.json written by 'Fetch data from Earth Engine': every date it lists is downscaled.</source>
            <translation>由“从 Earth Engine 获取数据”写出的 manifest.json：对其中列出的每个日期进行降尺度。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="206" />
            <source>Time series: input folder</source>
            <translation>时间序列：输入文件夹</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="206" />
            <source>A folder holding factors_&lt;date&gt;.tif and smap_&lt;date&gt;.tif (also in factors/ and smap/ subfolders, or listed by a manifest.json in the folder).</source>
            <translation>包含 factors_&lt;date&gt;.tif 和 smap_&lt;date&gt;.tif 的文件夹（也可位于 factors/ 和 smap/ 子文件夹中，或由文件夹中的 manifest.json 列出）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="211" />
            <source>Soil moisture 1 km</source>
            <translation>1 km 土壤水分</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="211" />
            <source>Float32 GeoTIFF of soil moisture in m3/m3 (one date).</source>
            <translation>土壤水分的 Float32 GeoTIFF，单位 m3/m3（单一日期）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="225" />
            <source>Time series: output folder</source>
            <translation>时间序列：输出文件夹</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="225" />
            <source>Folder for sm_1km_&lt;YYYYMMDD&gt;.tif per date and the list sm_1km_series.csv; empty: a temporary folder.</source>
            <translation>存放每个日期的 sm_1km_&lt;YYYYMMDD&gt;.tif 及列表 sm_1km_series.csv 的文件夹；留空则使用临时文件夹。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="229" />
            <source>Mean soil moisture (m3/m3)</source>
            <translation>土壤水分均值（m3/m3）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="230" />
            <source>Time series: output files (';'-separated)</source>
            <translation>时间序列：输出文件（以“;”分隔）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="238" />
            <source>{} is not a raster file (provider '{}'); save it as a GeoTIFF (Export &gt; Save As...) and use that file.</source>
            <translation>{} 不是栅格文件（数据提供程序为“{}”）；请将其另存为 GeoTIFF（导出 &gt; 另存为...）后使用该文件。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="257" />
            <source>The minimum soil moisture must be below the maximum.</source>
            <translation>土壤水分最小值必须小于最大值。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="272" />
            <source>Residual correction needs the coarse soil moisture: give the coarse SMAP raster of the same date, or set residual correction to None.</source>
            <translation>残差校正需要粗分辨率土壤水分：请给定同一日期的粗分辨率 SMAP 栅格，或将残差校正设为“无”。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="304" />
            <source>Residual correction is off: the coarse soil moisture raster is not used.</source>
            <translation>残差校正已关闭：不使用粗分辨率土壤水分栅格。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="316" />
            <source>Model: {} ({}); date: {}</source>
            <translation>模型：{}（{}）；日期：{}</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="318" />
            <source>{} valid pixels: mean {:.4f}, std {:.4f}, min {:.4f}, max {:.4f} m3/m3</source>
            <translation>{} 个有效像元：均值 {:.4f}，标准差 {:.4f}，最小值 {:.4f}，最大值 {:.4f} m3/m3</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="321" />
            <source>Residual correction: {} coarse cells, mean |residual| {:.4f} m3/m3, largest cell mean deviation {:.2g} m3/m3 (before clipping)</source>
            <translation>残差校正：{} 个粗像元，平均 |残差| {:.4f} m3/m3，像元均值最大偏差 {:.2g} m3/m3（截断前）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="336" />
            <source>{} pixels were clipped to {:g}-{:g} m3/m3.</source>
            <translation>{} 个像元被截断到 {:g}-{:g} m3/m3。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="502" />
            <source>Soil moisture 1 km {}</source>
            <translation>1 km 土壤水分 {}</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="431" />
            <source>Give either one factor stack (one date) or a time series (factor stacks, a manifest or an input folder), not both.</source>
            <translation>请给定一个因子堆栈（单一日期）或一个时间序列（因子堆栈、清单或输入文件夹），不能同时给定两者。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="434" />
            <source>Give a factor stack, or a time series: factor stacks of several dates, a manifest or an input folder.</source>
            <translation>请给定一个因子堆栈，或一个时间序列：多个日期的因子堆栈、清单或输入文件夹。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="438" />
            <source>Give the time series one way: factor stacks, a manifest or an input folder.</source>
            <translation>时间序列只能以一种方式给定：因子堆栈、清单或输入文件夹。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="440" />
            <source>Residual correction needs the SMAP rasters of the same dates: add them under 'Time series: SMAP soil moisture rasters', or set residual correction to None.</source>
            <translation>残差校正需要相同日期的 SMAP 栅格：请在“时间序列：SMAP 土壤水分栅格”中添加，或将残差校正设为“无”。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="469" />
            <source>Residual correction is off: the SMAP rasters are not used.</source>
            <translation>残差校正已关闭：不使用 SMAP 栅格。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="487" />
            <source>{}: {} valid pixels, mean {:.4f} m3/m3 -&gt; {}</source>
            <translation>{}：{} 个有效像元，均值 {:.4f} m3/m3 -&gt; {}</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="501" />
            <source>Soil moisture 1 km {} to {}</source>
            <translation>1 km 土壤水分 {} 至 {}</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="505" />
            <source>{} dates written to {}; mean soil moisture {:.4f} m3/m3.</source>
            <translation>已将 {} 个日期写入 {}；土壤水分均值 {:.4f} m3/m3。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="402" />
            <source>Prediction: compiled tree walker (same values as scikit-learn, faster).</source>
            <translation>预测：编译版决策树遍历器（与 scikit-learn 结果相同，速度更快）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="409" />
            <source>Prediction: scikit-learn; the compiled tree walker is {}.</source>
            <translation>预测：scikit-learn；编译版决策树遍历器{}。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="412" />
            <source>Prediction: scikit-learn.</source>
            <translation>预测：scikit-learn。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="485" />
            <source>SMAP values read with {}.</source>
            <translation>SMAP 值按 {} 读取。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="139" />
            <source>SMAP of the same date</source>
            <translation>同一日期的 SMAP</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="130" />
            <source>Smooth (mass-conserving)</source>
            <translation>平滑（质量守恒）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="191" />
            <source>Time series: factor stacks</source>
            <translation>时间序列：因子堆栈</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="196" />
            <source>Time series: SMAP rasters</source>
            <translation>时间序列：SMAP 栅格</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="201" />
            <source>Time series: fetch manifest</source>
            <translation>时间序列：数据获取清单</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="171" />
            <source>Fill gaps (complete maps)</source>
            <translation>填补空缺（完整地图）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="171" />
            <source>Predict pixels with missing factors from the coarse-cell means of those factors, and give pixels without any factor the coarse field; off: they stay nodata.</source>
            <translation>用缺失因子的粗像元均值预测因子缺失的像元，并为没有任何因子的像元赋予粗分辨率场；关闭时这些像元保持为无数据值。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="214" />
            <source>Quality (path of each pixel)</source>
            <translation>质量（各像元的来源路径）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="304" />
            <source>Residual correction is off: the coarse soil moisture raster serves gap filling only.</source>
            <translation>残差校正已关闭：粗分辨率土壤水分栅格仅用于填补空缺。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="343" />
            <source>Quality {}</source>
            <translation>质量 {}</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="360" />
            <source>Gap filling is off (or no SMAP raster was given): pixels where a factor is missing stay nodata.</source>
            <translation>填补空缺已关闭（或未给定 SMAP 栅格）：因子缺失的像元保持为无数据值。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="363" />
            <source>Pixels: {} with all factors observed, {} with missing factors filled from coarse-cell means, {} from the coarse field only.</source>
            <translation>像元：{} 个所有因子均有观测，{} 个缺失因子由粗像元均值填补，{} 个仅来自粗分辨率场。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="367" />
            <source>Factor {} filled at {} pixels.</source>
            <translation>因子 {} 在 {} 个像元处已填补。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="490" />
            <source>{}: {} pixels with missing factors filled, {} from the coarse field only.</source>
            <translation>{}：{} 个像元的缺失因子已填补，{} 个仅来自粗分辨率场。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="404" />
            <source>Prediction: compiled SVR kernel (scikit-learn's values within 1e-9, faster).</source>
            <translation>预测：编译版 SVR 核函数（与 scikit-learn 的值相差不超过 1e-9，速度更快）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="406" />
            <source>Prediction: SVR kernel in numpy blocks (scikit-learn's values within 1e-9); the compiled library is {}.</source>
            <translation>预测：numpy 分块计算的 SVR 核函数（与 scikit-learn 的值相差不超过 1e-9）；编译库{}。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="220" />
            <source>Uncertainty (tree spread)</source>
            <translation>不确定性（树间离散度）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="220" />
            <source>Optional, one date, random forest or extra trees models: the standard deviation of the trees' predictions per pixel (m3/m3). A relative measure, not a calibrated interval: how often the truth lies within it is measured in bench/ACCURACY.md.</source>
            <translation>可选，单一日期，仅随机森林或极端随机树模型：每个像元各棵树预测值的标准差（m3/m3）。这是相对度量，不是经过校准的区间：真值落入其中的比例见 bench/ACCURACY.md 中的测量。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="268" />
            <source>The uncertainty output is written for one date: leave it empty for a time series, or downscale the date alone.</source>
            <translation>不确定性输出只针对单一日期：时间序列请将其留空，或单独对该日期进行降尺度。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="345" />
            <source>Uncertainty: mean standard deviation across the trees {:.4f} m3/m3.</source>
            <translation>不确定性：各树预测的平均标准差 {:.4f} m3/m3。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="347" />
            <source>Soil moisture uncertainty {}</source>
            <translation>土壤水分不确定性 {}</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="174" />
            <source>Fill factors from neighbouring dates within (days)</source>
            <translation>用相邻日期填补因子的时间窗口（天）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="184" />
            <source>Neighbouring factor stacks (one date, temporal filling)</source>
            <translation>相邻因子堆栈（单一日期，时间填补）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="184" />
            <source>Factor stacks of other dates on the same grid, each with its date in the file name, for temporal filling of a single date (a time series fills from its own dates).</source>
            <translation>同一格网上其他日期的因子堆栈，文件名中各带其日期，用于单一日期的时间填补（时间序列从其自身的日期填补）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="214" />
            <source>Byte GeoTIFF: 1 all factors observed, 2 missing factors filled from coarse-cell means, 3 coarse field only, 4 factors partly from a neighbouring date, 0 nodata (one date; a time series writes quality_&lt;YYYYMMDD&gt;.tif next to the soil moisture files).</source>
            <translation>Byte GeoTIFF：1 所有因子均有观测，2 缺失因子由粗像元均值填补，3 仅粗分辨率场，4 部分因子取自相邻日期，0 无数据值（单一日期；时间序列在土壤水分文件旁写出 quality_&lt;YYYYMMDD&gt;.tif）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="264" />
            <source>Neighbouring factor stacks are for one date: a time series fills from its own dates. Leave them empty.</source>
            <translation>相邻因子堆栈用于单一日期：时间序列从其自身的日期填补。请将其留空。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="373" />
            <source>{}: {} pixels with factors from a neighbouring date within {} days (dates used: {}).</source>
            <translation>{}：{} 个像元的因子取自 {} 天内的相邻日期（所用日期：{}）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="373" />
            <source>none</source>
            <translation>无</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="377" />
            <source>Factor {} taken from a neighbouring date at {} pixels.</source>
            <translation>因子 {} 在 {} 个像元处取自相邻日期。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="131" />
            <source>Area-to-point kriging</source>
            <translation>面到点克里金</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="136" />
            <source>or a time series</source>
            <translation>或时间序列</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="196" />
            <source>for residual correction</source>
            <translation>用于残差校正</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="143" />
            <source>Smooth (default): the residual is spread as an interpolated surface, without steps at cell edges, and each SMAP cell's 1 km mean equals SMAP. Constant per coarse cell: the same cell means, with steps at cell edges. None: the plain model prediction. Area-to-point kriging: the residuals are kriged from the cells around each pixel with a variogram fitted to them, with the same cell means.</source>
            <translation>平滑（默认）：残差以插值曲面的形式分配，像元边界处没有阶跃，且每个 SMAP 像元内 1 km 结果的均值等于 SMAP。每个粗像元取常数：像元均值相同，但像元边界处有阶跃。无：直接使用模型预测值。面到点克里金：以对残差拟合的变异函数，由每个像元周围的粗像元对残差进行克里金插值，像元均值相同。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="191" />
            <source>or a manifest or folder</source>
            <translation>或清单、文件夹</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="201" />
            <source>or factor stacks or folder</source>
            <translation>或因子堆栈、文件夹</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="206" />
            <source>or factor stacks or manifest</source>
            <translation>或因子堆栈、清单</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="387" />
            <source>{} pixels lie in cells without a SMAP value or outside the SMAP raster and keep the uncorrected prediction.</source>
            <translation>{} 个像元位于没有 SMAP 值的粗像元内或 SMAP 栅格范围之外，保留未经校正的预测值。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="151" />
            <source>The model's own prediction</source>
            <translation>模型自身的预测</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="152" />
            <source>Linear model of local contrasts</source>
            <translation>局部对比的线性模型</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="153" />
            <source>Detail within SMAP cells</source>
            <translation>SMAP 像元内的细节</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="153" />
            <source>Linear model of local contrasts (default): the model gives each SMAP cell's level (interpolated between cell centres) and a linear model of the factors, fitted in training on how each SMAP cell differs from its 3 x 3 neighbours, gives the 1 km detail inside the cells; sharper on farmland mosaics. With the smooth correction the map then does not depend on the model type where SMAP has a value. It needs the SMAP raster and a model trained in the scale-aware mode (retrain older models). The model's own prediction: the 1 km map is the model's prediction, residual-corrected (the study's method; choose it to compare models).</source>
            <translation>局部对比的线性模型（默认）：模型给出每个 SMAP 像元的水平（在像元中心之间插值），而一个关于各因子的线性模型（在训练时依据每个 SMAP 像元与其 3 x 3 邻域的差异拟合）给出像元内部的 1 km 细节；在农田镶嵌景观上更清晰。配合平滑校正时，在 SMAP 有值之处，结果不再取决于模型类型。它需要 SMAP 栅格和以尺度感知模式训练的模型（较旧的模型请重新训练）。模型自身的预测：1 km 结果即模型的预测，并经残差校正（即研究的方法；比较模型时请选用）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="379" />
            <source>Weight of the neighbouring dates' values against the gap filling's own, measured on observed pixels: {}.</source>
            <translation>相邻日期的值相对于空缺填补自身的值的权重（在已观测像元上测得）：{}。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="174" />
            <source>0: off. A factor missing at a pixel (cloud, swath gap) takes its value on the nearest other date within this many days where the pixel is valid (a tie: the earlier date), moved to this date's level and weighed against the gap filling's own value; quality 4. Dynamic factors only miss in practice (LST, NDVI, SAR); static bands such as elevation are the same on every date. A time series uses its own dates; one date the neighbouring factor stacks below.</source>
            <translation>0：关闭。像元缺失的因子（云、条带空缺）取该像元在此天数内最近的、有效的其他日期上的值（同样近时取较早日期），并调整到本日期的水平，再与空缺填补自身的值加权组合；质量值为 4。实际上只有动态因子（LST、NDVI、SAR）会缺失；高程等静态波段在各日期相同。时间序列使用其自身的日期；单一日期使用下方的相邻因子堆栈。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="71" />
            <source>Applies a model trained with 'Train downscaling model' to a 1 km factor stack (from 'Align rasters to a grid') and writes 1 km soil moisture (m3/m3, float32 GeoTIFF, nodata -9999).

Factors are matched to the model by band name, so the stack may hold its bands in any order and extra bands; a factor the model needs but the stack lacks is an error. The raster is processed in blocks, so any extent fits in memory.

Complete maps: where factors are missing (cloud gaps in LST or NDVI, swath gaps, water), a pixel is predicted from the factors it has plus the coarse-cell means of the missing ones (interpolated between cell centers); a pixel without any factor, in a cell with a SMAP value, gets the coarse field itself (residual-corrected). This needs the SMAP raster (its cells), also with residual correction off. The quality raster says per pixel which path produced it: 1 all factors observed, 2 missing factors filled, 3 coarse field only, 4 factors partly from a neighbouring date (0 nodata). Turn 'Fill gaps' off to leave such pixels empty.

Temporal filling (advanced: 'Fill factors from neighbouring dates within (days)', default 12; 0 = off): before the above, a factor missing at a pixel takes its value at that pixel on the nearest other date within that many days where it is valid (nearest in days; of two dates equally far, the earlier; at most the 6 nearest dates), moved to this date's level: plus the mean difference between the two dates over the pixels valid on both, per tile of 16 x 16 pixels, so the other date brings the pixel's pattern, not its weather. With gap filling on, that value is weighed against the gap filling's own (cell means plus what the pixel's observed factors say), per factor and per pattern of missing factors (LST alone, LST and NDVI together, ...), by how well each recovers the factor where the same factors are hidden at observed pixels; the log gives each factor's weight over all patterns together (1: the other date's value, 0: the gap filling's). Bands are matched by name and every date must be on the same grid. A time series fills from its own other dates; a single date from the 'Neighbouring factor stacks' given (none given: nothing to fill from). Only dynamic factors (LST, NDVI, SAR) miss in practice; static bands such as elevation or land cover are the same on every date. On the bench (bench/GAPS.md) such pixels came closer to the truth than with the gap filling alone on every scene (little on farmland mosaics, whose factors change between dates).

Residual correction (default: smooth, mass-conserving) needs the coarse SMAP raster of the same date: for every SMAP cell the residual is SMAP minus the mean of the 1 km predictions inside the cell. The smooth correction adds a bilinear surface through one value per SMAP cell, solved so that the 1 km field averages exactly to SMAP in every cell, without steps at cell edges. The constant variant adds each cell's residual to its pixels (the same cell means, but 9 km seams show). Area-to-point kriging spreads the residuals with weights from a variogram fitted to them (the same cell means). Pixels whose cell has no SMAP value have nothing to conserve: the smooth and kriging corrections continue into them from the neighbouring cells and fade out over a cell or two (no step at the edge), the constant one leaves them as predicted; the log reports the largest cell-mean deviation from SMAP (mass-conservation check). Finally values are clipped to the physical range (advanced parameters).

Derived factors the model was trained with (LST day-night difference, TVDI, antecedent precipitation index) are recomputed from the stack's bands; a stack without them works with models that do not use them.

Time series: instead of one factor stack, give factor stacks of several dates (with the SMAP rasters of the same dates), the manifest.json of 'Fetch data from Earth Engine', or a folder holding factors_&lt;date&gt;.tif and smap_&lt;date&gt;.tif (dates as YYYYMMDD or YYYY-MM-DD in the names). Every date is downscaled exactly as a single date would be and written to the output folder as sm_1km_&lt;YYYYMMDD&gt;.tif, with sm_1km_series.csv listing date, start, end and file. In QGIS the files load into one group, each layer shown from its date until the next one, so the temporal controller animates the series.

Units: the SMAP of residual correction is read as the model was trained (its SM_SCALE and SM_NODATA) unless the advanced parameters give others; values that cannot be m3/m3 (percent, an undeclared fill value such as -9999) stop the run with the fix. An LST factor in degrees Celsius for a model trained on Kelvin (or the reverse) and NDVI-like factors outside -1 to 1 are refused with the conversion to apply. More than 5 % of the pixels clipped to the physical range is a warning in the log and in the output's metadata; more than half stops the run, as the inputs are then in other units.</source>
            <translation>将用“训练降尺度模型”训练的模型应用于 1 km 因子堆栈（来自“将栅格对齐到格网”），写出 1 km 土壤水分（m3/m3，float32 GeoTIFF，无数据值 -9999）。

因子按波段名称与模型匹配，因此堆栈中的波段可以任意顺序排列，也可以包含多余的波段；模型需要而堆栈缺少的因子会导致报错。栅格分块处理，因此任意范围都不会超出内存。

完整地图：因子缺失之处（LST 或 NDVI 的云隙、条带空缺、水体），像元用其已有的因子加上缺失因子的粗像元均值（在像元中心之间插值）进行预测；没有任何因子、但所在粗像元有 SMAP 值的像元取粗分辨率场本身（经残差校正）。这需要 SMAP 栅格（其像元），残差校正关闭时也是如此。质量栅格逐像元说明结果由哪条路径得到：1 所有因子均有观测，2 缺失因子已填补，3 仅粗分辨率场，4 部分因子取自相邻日期（0 为无数据值）。关闭“填补空缺”则这些像元保持为空。

时间填补（高级参数“用相邻日期填补因子的时间窗口（天）”，默认 12；0 为关闭）：在上述步骤之前，像元缺失的因子取该像元在窗口天数内最近的其他日期上的有效值（按天数取最近；两个日期同样近时取较早者；最多取最近的 6 个日期），并调整到本日期的水平：加上两个日期在两者均有效的像元上的平均差值（按 16 x 16 像元的分块计算），因此其他日期带来的是该像元的空间格局，而不是当日的天气。开启空缺填补时，该值按因子及缺失因子的组合（仅 LST、LST 与 NDVI 同时缺失等）与空缺填补自身的值（粗像元均值加上该像元已观测因子所指示的偏差）加权组合，权重取决于在已观测像元上隐藏相同因子时两者恢复该因子的效果；日志给出各因子在所有组合上的总体权重（1：其他日期的值，0：空缺填补的值）。波段按名称匹配，各日期必须位于同一格网上。时间序列从其自身的其他日期填补；单一日期从给定的“相邻因子堆栈”填补（未给定则无从填补）。实际上只有动态因子（LST、NDVI、SAR）会缺失；高程、土地覆盖等静态波段在各日期相同。在基准测试（bench/GAPS.md）中，这类像元在每个场景上都比仅用空缺填补更接近真值（在农田镶嵌场景上提升很小，因为其因子在日期之间变化）。

残差校正（默认：平滑、质量守恒）需要同一日期的粗分辨率 SMAP 栅格：每个 SMAP 像元的残差为 SMAP 减去该像元内 1 km 预测值的均值。平滑校正加上一个双线性曲面，该曲面由每个 SMAP 像元一个值确定，并经求解使 1 km 结果在每个像元内的均值恰好等于 SMAP，且像元边界处没有阶跃。常数方式将每个像元的残差加到其像元上（像元均值相同，但会出现 9 km 接缝）。面到点克里金以对残差拟合的变异函数确定的权重分配残差（像元均值相同）。所在粗像元没有 SMAP 值的像元无需守恒：平滑校正和克里金校正从相邻像元延伸到其中，并在一两个像元内逐渐减弱（边界处无阶跃），常数校正保留其预测值；日志报告像元均值与 SMAP 的最大偏差（质量守恒检查）。最后将结果截断到物理范围（高级参数）。

模型训练时使用的派生因子（LST 昼夜温差、TVDI、前期降水指数）由堆栈的波段重新计算；不含这些波段的堆栈可用于不使用它们的模型。

时间序列：不给定单个因子堆栈，而是给定多个日期的因子堆栈（以及相同日期的 SMAP 栅格）、“从 Earth Engine 获取数据”写出的 manifest.json，或包含 factors_&lt;date&gt;.tif 和 smap_&lt;date&gt;.tif 的文件夹（文件名中的日期为 YYYYMMDD 或 YYYY-MM-DD）。每个日期的降尺度方式与单一日期完全相同，以 sm_1km_&lt;YYYYMMDD&gt;.tif 写入输出文件夹，并由 sm_1km_series.csv 列出日期、起始、结束和文件。在 QGIS 中，这些文件加载到同一个图层组，每个图层从其日期显示到下一个日期，因此时间控制器可以播放该序列。

单位：除非在高级参数中另行给定，残差校正所用的 SMAP 按模型训练时的方式读取（其 SM_SCALE 和 SM_NODATA）；不可能是 m3/m3 的值（百分比、未声明的填充值如 -9999）会使运行停止，并给出修正方法。若模型以开尔文训练而 LST 因子为摄氏度（或相反），或类 NDVI 因子超出 -1 到 1，将被拒绝并给出应做的换算。超过 5% 的像元被截断到物理范围时，会在日志和输出的元数据中给出警告；超过一半时运行停止，因为此时输入采用了其他单位。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="389" />
            <source>{} pixels lie in cells without a SMAP value or outside the SMAP raster: nothing to conserve there. The correction of the neighbouring cells continues into them (beyond the raster's edge as into its cells without a value) and fades out.</source>
            <translation>{} 个像元位于没有 SMAP 值的粗像元内或 SMAP 栅格范围之外：此处无需守恒。相邻像元的校正延伸到这些像元中（在栅格边缘之外与在其无值像元中一样）并逐渐减弱。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscale.py" line="325" />
            <source>Clipping to the physical range moved the mean of {} coarse cells more than 0.001 m3/m3 off SMAP (at most {:.3f} m3/m3): their clipped pixels keep the clipped amount off the cell.</source>
            <translation>裁剪到物理范围使 {} 个粗网格单元的均值偏离 SMAP 超过 0.001 m3/m3（最多 {:.3f} m3/m3）：被裁剪像元的裁剪量不再计入该单元。</translation>
        </message>
    </context>
    <context>
        <name>DownscaleGeeAlgorithm</name>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="102" />
            <source>Downscale on Earth Engine</source>
            <translation>在 Earth Engine 上降尺度</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="144" />
            <source>Extent</source>
            <translation>范围</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="144" />
            <source>Area to downscale, with its CRS. Ignored when a polygon layer is given.</source>
            <translation>要降尺度的区域及其坐标参考系。给定面图层时忽略此项。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="147" />
            <source>Area (polygon layer)</source>
            <translation>区域（面图层）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="147" />
            <source>Polygons delimiting the area; the maps cover the SMAP cells of their bounding box.</source>
            <translation>界定区域的多边形；结果图覆盖其外包矩形内的 SMAP 像元。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="151" />
            <source>Start date (YYYY-MM-DD)</source>
            <translation>开始日期（YYYY-MM-DD）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="151" />
            <source>First day of the date range.</source>
            <translation>日期范围的第一天。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="153" />
            <source>End date (YYYY-MM-DD, inclusive)</source>
            <translation>结束日期（YYYY-MM-DD，包含当日）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="153" />
            <source>Last day of the date range (included).</source>
            <translation>日期范围的最后一天（包含）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="156" />
            <source>Time step</source>
            <translation>时间步长</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="156" />
            <source>Daily</source>
            <translation>逐日</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="156" />
            <source>8-day</source>
            <translation>8 天</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="156" />
            <source>16-day</source>
            <translation>16 天</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="156" />
            <source>Monthly</source>
            <translation>逐月</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="156" />
            <source>One map per time step; 8- and 16-day steps follow the MODIS calendar.</source>
            <translation>每个时间步长输出一幅图；8 天和 16 天步长遵循 MODIS 日历。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="160" />
            <source>Factors</source>
            <translation>因子</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="160" />
            <source>Downscaling factors (as in 'Fetch data from Earth Engine'). A reused classifier needs the factors it was trained with, in the same order.</source>
            <translation>降尺度因子（与“从 Earth Engine 获取数据”中相同）。重用的分类器需要与其训练时相同的因子，且顺序相同。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="164" />
            <source>SMAP product</source>
            <translation>SMAP 产品</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="164" />
            <source>L4 (model assimilation, 3-hourly)</source>
            <translation>L4（模式同化，3 小时）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="164" />
            <source>The SMAP product downscaled.</source>
            <translation>要降尺度的 SMAP 产品。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="169" />
            <source>SMAP layer</source>
            <translation>SMAP 图层</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="169" />
            <source>Surface soil moisture (0-5 cm)</source>
            <translation>表层土壤水分（0-5 cm）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="169" />
            <source>The soil moisture layer to downscale.</source>
            <translation>要降尺度的土壤水分图层。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="174" />
            <source>Model</source>
            <translation>模型</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="139" />
            <source>Random forest (RF)</source>
            <translation>随机森林（RF）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="139" />
            <source>Regression tree (CART)</source>
            <translation>分类回归树（CART）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="141" />
            <source>Gradient tree boosting (GBT)</source>
            <translation>梯度提升树（GBT）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="174" />
            <source>Earth Engine regressor: smileRandomForest, smileCart, libsvm NU_SVR or smileGradientTreeBoost.</source>
            <translation>Earth Engine 回归器：smileRandomForest、smileCart、libsvm NU_SVR 或 smileGradientTreeBoost。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="178" />
            <source>Number of trees (RF, GBT)</source>
            <translation>树的数量（RF、GBT）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="178" />
            <source>numberOfTrees; the local chain's n_estimators.</source>
            <translation>numberOfTrees；对应本地流程的 n_estimators。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="181" />
            <source>Minimum samples per leaf (RF, CART)</source>
            <translation>叶节点最小样本数（RF、CART）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="181" />
            <source>minLeafPopulation (local min_samples_leaf). Empty: 2 for RF, 5 for CART, as locally.</source>
            <translation>minLeafPopulation（对应本地的 min_samples_leaf）。留空：RF 为 2，CART 为 5，与本地一致。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="185" />
            <source>Variables per split (RF)</source>
            <translation>每次分裂的变量数（RF）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="185" />
            <source>variablesPerSplit (local max_features). Empty: all features, as the local random forest.</source>
            <translation>variablesPerSplit（对应本地的 max_features）。留空：使用全部特征，与本地随机森林一致。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="189" />
            <source>Maximum leaf nodes per tree</source>
            <translation>每棵树的最大叶节点数</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="189" />
            <source>maxNodes (local max_leaf_nodes). Empty: no limit for RF, 4096 (= depth 12) for CART, 8 (= depth 3) for GBT.</source>
            <translation>maxNodes（对应本地的 max_leaf_nodes）。留空：RF 不限，CART 为 4096（= 深度 12），GBT 为 8（= 深度 3）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="193" />
            <source>SVR cost (C)</source>
            <translation>SVR 代价参数（C）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="193" />
            <source>libsvm cost, the local SVR's C.</source>
            <translation>libsvm 代价参数，即本地 SVR 的 C。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="195" />
            <source>SVR nu</source>
            <translation>SVR nu</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="195" />
            <source>NU_SVR's nu (0 &lt; nu &lt;= 1): the share of support vectors; it replaces the local SVR's epsilon.</source>
            <translation>NU_SVR 的 nu（0 &lt; nu &lt;= 1）：支持向量所占比例；它取代本地 SVR 的 epsilon。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="199" />
            <source>SVR gamma</source>
            <translation>SVR gamma</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="199" />
            <source>RBF kernel gamma. Empty: 1 / number of features ('scale' on standardized factors, as locally).</source>
            <translation>RBF 核的 gamma。留空：1 / 特征数（在标准化因子上即“scale”，与本地一致）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="202" />
            <source>Learning rate (GBT)</source>
            <translation>学习率（GBT）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="202" />
            <source>smileGradientTreeBoost shrinkage.</source>
            <translation>smileGradientTreeBoost 的收缩系数（shrinkage）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="206" />
            <source>Training samples per time step (0 = all SMAP cells)</source>
            <translation>每个时间步长的训练样本数（0 = 全部 SMAP 像元）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="206" />
            <source>SMAP cells drawn at random (seeded) per training date; each sample is a different cell.</source>
            <translation>每个训练日期随机抽取（固定种子）的 SMAP 像元；每个样本为不同的像元。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="210" />
            <source>Training time steps (0 = all)</source>
            <translation>训练时间步数（0 = 全部）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="210" />
            <source>Dates the model is trained on, spread evenly over the range; fewer keep every export request small (each export carries the training computation).</source>
            <translation>用于训练模型的日期，均匀分布在日期范围内；日期越少，每个导出请求越小（每个导出都包含训练计算）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="214" />
            <source>Random seed</source>
            <translation>随机种子</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="214" />
            <source>Seed of the sampling and of the random forest / boosting.</source>
            <translation>抽样以及随机森林 / 提升算法的随机种子。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="216" />
            <source>Residual correction</source>
            <translation>残差校正</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="142" />
            <source>Constant per coarse cell</source>
            <translation>每个粗像元取常数</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="142" />
            <source>None</source>
            <translation>无</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="223" />
            <source>Clip minimum (m3/m3)</source>
            <translation>截断下限（m3/m3）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="223" />
            <source>Lower end of the physical range values are clamped to.</source>
            <translation>物理范围的下限，结果值被限制在该值以上。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="225" />
            <source>Clip maximum (m3/m3)</source>
            <translation>截断上限（m3/m3）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="225" />
            <source>Upper end of the physical range values are clamped to.</source>
            <translation>物理范围的上限，结果值被限制在该值以下。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="227" />
            <source>Fine resolution (target CRS units)</source>
            <translation>精细分辨率（目标坐标参考系单位）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="227" />
            <source>Pixel size of the maps (metres for EPSG:6933); must be finer than SMAP's 9 km.</source>
            <translation>结果图的像元大小（EPSG:6933 下单位为米）；必须比 SMAP 的 9 km 更精细。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="230" />
            <source>Target CRS</source>
            <translation>目标坐标参考系</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="230" />
            <source>CRS of the maps; EPSG:6933 (SMAP's own EASE-Grid 2.0) when empty.</source>
            <translation>结果图的坐标参考系；留空时为 EPSG:6933（SMAP 自身的 EASE-Grid 2.0）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="233" />
            <source>Compositing window for gap filling (days)</source>
            <translation>填补空缺的合成窗口（天）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="233" />
            <source>As in 'Fetch data from Earth Engine': sparse sensors are gap-filled from this many days around each step; 0 turns it off.</source>
            <translation>与“从 Earth Engine 获取数据”中相同：稀疏观测的传感器用每个时间步长前后这么多天的数据填补空缺；0 表示关闭。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="237" />
            <source>Export to</source>
            <translation>导出到</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="237" />
            <source>Google Drive</source>
            <translation>Google Drive</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="237" />
            <source>Cloud Storage</source>
            <translation>Cloud Storage</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="237" />
            <source>Earth Engine asset</source>
            <translation>Earth Engine 资产</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="237" />
            <source>Where Earth Engine writes the maps (float32 GeoTIFF, nodata -9999, or image assets).</source>
            <translation>Earth Engine 写出结果图的位置（float32 GeoTIFF，无数据值 -9999，或影像资产）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="241" />
            <source>Google Drive folder (default 'smdownscale'), Cloud Storage bucket (optionally bucket/folder) or asset folder (projects/&lt;project&gt;/assets/&lt;folder&gt;).</source>
            <translation>Google Drive 文件夹（默认“smdownscale”）、Cloud Storage 存储桶（可写成 bucket/folder）或资产文件夹（projects/&lt;project&gt;/assets/&lt;folder&gt;）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="245" />
            <source>Tasks running at once (batch size)</source>
            <translation>同时运行的任务数（批大小）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="245" />
            <source>At most this many export tasks queued or running on Earth Engine at once; the next start as others finish. Keep it within your project's concurrent task limit.</source>
            <translation>在 Earth Engine 上同时排队或运行的导出任务至多为此数；其他任务结束后再启动后续任务。请保持在项目的并发任务上限之内。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="249" />
            <source>Status check interval (seconds)</source>
            <translation>状态检查间隔（秒）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="249" />
            <source>Seconds between task status checks; 10 or more for Earth Engine.</source>
            <translation>两次任务状态检查之间的秒数；对 Earth Engine 建议 10 秒或以上。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="259" />
            <source>Asset id of a classifier saved by an earlier run: no training, the same factors are needed.</source>
            <translation>先前运行保存的分类器的资产 ID：不再训练，需要相同的因子。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="263" />
            <source>Wait until the tasks finish</source>
            <translation>等待任务完成</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="263" />
            <source>Follow the tasks until they end. Off: start the first batch and return; QGIS keeps following them in the task manager, or run again with the same manifest.</source>
            <translation>跟踪任务直至结束。关闭时：启动第一批任务后返回；QGIS 会在任务管理器中继续跟踪，也可以使用同一清单再次运行。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="271" />
            <source>Earth Engine Cloud project</source>
            <translation>Earth Engine 云项目</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="271" />
            <source>Google Cloud project registered for Earth Engine. Empty: the plugin settings, then the SMDOWNSCALE_EE_PROJECT environment variable.</source>
            <translation>已注册 Earth Engine 的 Google Cloud 项目。留空：依次使用插件设置、SMDOWNSCALE_EE_PROJECT 环境变量。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="274" />
            <source>Task manifest</source>
            <translation>任务清单</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="274" />
            <source>JSON files (*.json)</source>
            <translation>JSON 文件 (*.json)</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="274" />
            <source>JSON file recording the tasks; choose a file (not a temporary one) to resume a run later.</source>
            <translation>记录任务的 JSON 文件；如需稍后继续运行，请选择一个文件（而非临时文件）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="277" />
            <source>Download the completed maps from Cloud Storage into this folder and load them as layers.</source>
            <translation>将已完成的结果图从 Cloud Storage 下载到此文件夹，并作为图层加载。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="281" />
            <source>Number of tasks</source>
            <translation>任务数</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="282" />
            <source>Completed tasks</source>
            <translation>已完成的任务</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="283" />
            <source>Failed or canceled tasks</source>
            <translation>失败或已取消的任务</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="284" />
            <source>Tasks not finished yet</source>
            <translation>尚未完成的任务</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="285" />
            <source>Earth Engine task ids (';'-separated)</source>
            <translation>Earth Engine 任务 ID（以“;”分隔）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="286" />
            <source>Downloaded maps (';'-separated)</source>
            <translation>已下载的结果图（以“;”分隔）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="345" />
            <source>Unknown factor {}. Known factors: {}.</source>
            <translation>未知因子 {}。已知因子：{}。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="352" />
            <source>start date</source>
            <translation>开始日期</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="352" />
            <source>end date</source>
            <translation>结束日期</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="354" />
            <source>The {} '{}' is not a date; write it as YYYY-MM-DD.</source>
            <translation>{}“{}”不是日期；请写成 YYYY-MM-DD。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="356" />
            <source>The date range is reversed: the end date {} is before the start date {}. Swap them.</source>
            <translation>日期范围颠倒：结束日期 {} 早于开始日期 {}。请交换两者。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="359" />
            <source>Choose at least one factor.</source>
            <translation>请至少选择一个因子。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="365" />
            <source>Give an extent or a polygon layer for the area to downscale.</source>
            <translation>请给定要降尺度区域的范围或面图层。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="368" />
            <source>The clip minimum must be below the clip maximum.</source>
            <translation>截断下限必须小于截断上限。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="371" />
            <source>Downloading works only with the Cloud Storage destination; choose Cloud Storage or leave the download folder empty.</source>
            <translation>下载仅适用于 Cloud Storage 目标；请选择 Cloud Storage，或将下载文件夹留空。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="436" />
            <source>{} task(s): {} completed ({} in earlier runs), {} failed or canceled, {} not finished; Earth Engine compute reported: {:.2f} EECU-hours. Manifest: {}</source>
            <translation>{} 个任务：{} 个已完成（其中 {} 个在先前运行中完成），{} 个失败或已取消，{} 个未完成；Earth Engine 报告的计算量：{:.2f} EECU 小时。清单：{}</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="441" />
            <source>{}: {}: {}</source>
            <translation>{}：{}：{}</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="445" />
            <source>The remaining tasks are followed in the QGIS task manager (when QGIS runs), or run again with the same manifest to follow them.</source>
            <translation>其余任务由 QGIS 任务管理器跟踪（QGIS 运行时），或使用同一清单再次运行以跟踪它们。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="470" />
            <source>Following the Earth Engine tasks in the task manager.</source>
            <translation>正在任务管理器中跟踪 Earth Engine 任务。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="266" />
            <source>Plan only (dry run)</source>
            <translation>仅规划（试运行）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="266" />
            <source>Submit nothing: write the plan next to the task manifest (NAME.plan.csv) with, per export task, the pixels, bytes, source pixels Earth Engine reads and training runs, and show it in the log. Only SMAP's grid is read from Earth Engine.</source>
            <translation>不提交任何任务：在任务清单旁写出规划文件（名称.plan.csv），列出每个导出任务的像元数、字节数、Earth Engine 读取的源像元数和训练次数，并显示在日志中。只从 Earth Engine 读取 SMAP 的格网。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="287" />
            <source>Plan (CSV)</source>
            <translation>规划（CSV）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="288" />
            <source>Planned tasks</source>
            <translation>计划任务数</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="289" />
            <source>Planned bytes</source>
            <translation>计划字节数</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="290" />
            <source>Planned training runs</source>
            <translation>计划训练次数</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="427" />
            <source>Plan written to {}: {} task(s), {} bytes, {} training run(s); nothing was submitted.</source>
            <translation>规划已写入 {}：{} 个任务，{} 字节，{} 次训练；未提交任何任务。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="252" />
            <source>Asset id to save the trained classifier to (RF and CART only), e.g. projects/&lt;project&gt;/assets/smd_rf; reuse it later with 'Reuse classifier asset'. Empty: smdownscale_classifier_&lt;run id&gt; in the asset folder or projects/&lt;project&gt;/assets.</source>
            <translation>保存训练好的分类器的资产 ID（仅限 RF 和 CART），例如 projects/&lt;project&gt;/assets/smd_rf；以后可通过“重用分类器资产”使用。为空时：资产文件夹或 projects/&lt;project&gt;/assets 中的 smdownscale_classifier_&lt;运行 ID&gt;。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="140" />
            <source>Support vector regression (NU_SVR)</source>
            <translation>支持向量回归（NU_SVR）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="164" />
            <source>L3 enhanced (radiometer, AM/PM)</source>
            <translation>L3 增强型（辐射计，上午/下午）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="169" />
            <source>Root zone (0-100 cm, L4 only)</source>
            <translation>根区（0-100 cm，仅 L4）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="241" />
            <source>Export location</source>
            <translation>导出位置</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="252" />
            <source>Save classifier as asset</source>
            <translation>将分类器保存为资产</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="259" />
            <source>Reuse classifier asset</source>
            <translation>重用分类器资产</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="277" />
            <source>Download folder (Cloud Storage)</source>
            <translation>下载文件夹（Cloud Storage）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="105" />
            <source>Runs the downscaling chain on Google Earth Engine, for areas and periods too large for one computer (a province, several years of daily maps), and exports one 1 km soil moisture map per time step to Google Drive, Cloud Storage or an Earth Engine asset.

Same concepts as the local chain (fetchgee, train, downscale): the factors are computed on the fine grid (target CRS and resolution), averaged onto SMAP's own grid (read from the asset) with a mean (land cover becomes class fractions), and paired with SMAP; training samples are drawn on that coarse grid, a different SMAP cell each (samples per time step; 0 = all cells), from up to 'training time steps' dates spread over the range. The model (random forest, CART, support vector regression NU_SVR with RBF kernel on standardized factors, or gradient tree boosting) is trained in regression mode and applied to the fine factors. As in the local chain the maps have no holes: where a factor is missing (clouds, swath gaps) it is filled from its mean over the SMAP cell, interpolated between cell centres, and where no factor is observed the model predicts from the cell means alone (the coarse field), in cells with a SMAP value. Residual correction then makes each cell average to SMAP: smooth (default, no 9 km steps) or constant per cell. A second band 'quality' says how each pixel was made: 1 all factors observed, 2 missing factors filled, 3 coarse field only, 0 no value. Values are then clamped to the clip range. Hyperparameters map to the local ones (README table).

Tasks: exports are submitted in batches (at most 'batch size' queued or running at once) and followed until they end ('wait'), with progress = finished tasks; cancel cancels them on Earth Engine. Without 'wait' the first batch is started and the algorithm returns; in QGIS the rest is followed in the task manager. The task manifest (JSON) records every task (id, destination, state, Earth Engine's error message; never a credential): run again with the same manifest to resume: completed tasks are skipped, failed or canceled ones submitted again, running ones followed.

Random forest and CART are trained once, by a classifier task saved as an asset (the given one, else one named after the run), and every export loads it; SVR and gradient boosting cannot be saved, so every export retrains them (at most 25,000 samples). A saved classifier can be reused later instead of training. With Cloud Storage, completed maps can be downloaded to a folder and loaded as layers.

Earth Engine access: a Cloud project registered for Earth Engine (parameter, plugin settings or SMDOWNSCALE_EE_PROJECT) and your credentials ('earthengine authenticate') or a service account (plugin settings).</source>
            <translation>在 Google Earth Engine 上运行降尺度流程，适用于单台计算机难以处理的区域和时段（一个省、多年的逐日结果），并将每个时间步长的一幅 1 km 土壤水分图导出到 Google Drive、Cloud Storage 或 Earth Engine 资产。

概念与本地流程（fetchgee、train、downscale）相同：因子在精细格网（目标坐标参考系和分辨率）上计算，以均值聚合到 SMAP 自身的格网（从资产读取）上（土地覆盖转为各类别所占比例），并与 SMAP 配对；训练样本在该粗格网上抽取，每个样本为不同的 SMAP 像元（每个时间步长的样本数；0 = 全部像元），取自均匀分布在日期范围内、至多“训练时间步数”个日期。模型（随机森林、CART、在标准化因子上使用 RBF 核的支持向量回归 NU_SVR，或梯度提升树）以回归模式训练，并应用于精细分辨率因子。与本地流程一样，结果图没有空洞：某个因子缺失（云、扫描条带间隙）时，用该因子在 SMAP 像元内的均值填补，并在像元中心之间插值；没有任何因子观测的像元，模型仅由像元均值进行预测（即粗分辨率场），且仅限于有 SMAP 值的像元。随后残差校正使每个像元的均值等于 SMAP：平滑（默认，无 9 km 台阶）或每个像元加常数。第二个波段“quality”说明每个像元的来源：1 所有因子均有观测，2 缺失因子已填补，3 仅粗分辨率场，0 无值。随后将结果限制在截断范围内。超参数与本地流程一一对应（见 README 中的表格）。

任务：导出任务分批提交（同时排队或运行的任务至多为“批大小”），并跟踪至结束（“等待”），进度 = 已结束的任务；取消操作会在 Earth Engine 上取消这些任务。不勾选“等待”时，启动第一批任务后算法即返回；在 QGIS 中，其余任务由任务管理器继续跟踪。任务清单（JSON）记录每个任务（ID、目标位置、状态、Earth Engine 的错误信息；从不记录凭据）：使用同一清单再次运行即可继续：已完成的任务被跳过，失败或已取消的任务重新提交，正在运行的任务继续跟踪。

随机森林和 CART 只训练一次：由一个分类器任务训练并保存为资产（给定的资产，否则以本次运行命名），每个导出任务都加载它；支持向量回归和梯度提升树无法保存，因此每个导出任务都会重新训练（至多 25,000 个样本）。已保存的分类器以后可以直接重用而无需重新训练。使用 Cloud Storage 时，已完成的结果图可以下载到文件夹并作为图层加载。

Earth Engine 访问：需要一个已注册 Earth Engine 的云项目（参数、插件设置或 SMDOWNSCALE_EE_PROJECT），以及您的凭据（“earthengine authenticate”）或服务账号（插件设置）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="143" />
            <source>Smooth (mass-conserving)</source>
            <translation>平滑（质量守恒）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="216" />
            <source>Both keep each SMAP cell's mean. Smooth (default): the residuals (SMAP minus the cell mean of the prediction) are interpolated between cell centres and corrected in a few rounds on Earth Engine, so no steps appear at cell edges. Constant: each cell's residual is added to its pixels (9 km steps).</source>
            <translation>两者都保持每个 SMAP 像元的均值。平滑（默认）：残差（SMAP 减去该像元内预测值的均值）在像元中心之间插值，并在 Earth Engine 上经过几轮校正，因此像元边界处不出现台阶。常数：将每个像元的残差加到其内的像元上（9 km 台阶）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="144" />
            <source>or a polygon layer</source>
            <translation>或面图层</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/downscalegee.py" line="147" />
            <source>or an extent</source>
            <translation>或范围</translation>
        </message>
    </context>
    <context>
        <name>FetchGeeAlgorithm</name>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="72" />
            <source>Fetch data from Earth Engine</source>
            <translation>从 Earth Engine 获取数据</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="103" />
            <source>Extent</source>
            <translation>范围</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="103" />
            <source>Area to fetch, with its CRS. Ignored when a polygon layer is given.</source>
            <translation>要获取数据的区域及其坐标参考系。给定面图层时忽略此项。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="106" />
            <source>Area (polygon layer)</source>
            <translation>区域（面图层）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="106" />
            <source>Polygons delimiting the area (all features together). The data cover the SMAP cells that intersect the polygons' bounding box.</source>
            <translation>界定区域的多边形（所有要素合在一起）。数据覆盖与多边形外包矩形相交的 SMAP 像元。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="110" />
            <source>Start date (YYYY-MM-DD)</source>
            <translation>开始日期（YYYY-MM-DD）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="110" />
            <source>First day of the date range.</source>
            <translation>日期范围的第一天。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="112" />
            <source>End date (YYYY-MM-DD, inclusive)</source>
            <translation>结束日期（YYYY-MM-DD，包含当日）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="112" />
            <source>Last day of the date range (included).</source>
            <translation>日期范围的最后一天（包含）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="115" />
            <source>Time step</source>
            <translation>时间步长</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="115" />
            <source>Daily</source>
            <translation>逐日</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="115" />
            <source>8-day</source>
            <translation>8 天</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="115" />
            <source>16-day</source>
            <translation>16 天</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="115" />
            <source>Monthly</source>
            <translation>逐月</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="115" />
            <source>Length of each time step. 8- and 16-day steps follow the MODIS composite calendar; the first and last steps are clipped to the date range.</source>
            <translation>每个时间步长的长度。8 天和 16 天步长遵循 MODIS 合成日历；第一个和最后一个时间步长截取到日期范围内。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="120" />
            <source>Compositing window for gap filling (days)</source>
            <translation>填补空缺的合成窗口（天）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="120" />
            <source>Sentinel-1, Landsat and MODIS LST/albedo pixels left without a valid observation in a step are filled from this many days before and after it; 0 turns gap filling off.</source>
            <translation>Sentinel-1、Landsat 以及 MODIS 地表温度 / 反照率在某时间步长内没有有效观测的像元，用该步长前后这么多天的数据填补；0 表示关闭填补。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="126" />
            <source>SMAP product</source>
            <translation>SMAP 产品</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="126" />
            <source>L4 (model assimilation, 3-hourly)</source>
            <translation>L4（模式同化，3 小时）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="126" />
            <source>SMAP L4 (SPL4SMGP v8) is gap-free; SMAP L3 enhanced (SPL3SMP_E) has gaps between overpasses and keeps only recommended-quality retrievals.</source>
            <translation>SMAP L4（SPL4SMGP v8）没有空缺；SMAP L3 增强型（SPL3SMP_E）在两次过境之间存在空缺，且只保留推荐质量的反演结果。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="132" />
            <source>SMAP layer</source>
            <translation>SMAP 图层</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="132" />
            <source>Surface soil moisture (0-5 cm)</source>
            <translation>表层土壤水分（0-5 cm）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="132" />
            <source>The soil moisture layer to downscale.</source>
            <translation>要降尺度的土壤水分图层。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="137" />
            <source>Factors</source>
            <translation>因子</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="137" />
            <source>Downscaling factors to fetch, each one band of the factor stacks (see the algorithm help for their sources).</source>
            <translation>要获取的降尺度因子，每个因子为因子堆栈中的一个波段（来源见算法帮助）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="141" />
            <source>Fine resolution (target CRS units)</source>
            <translation>精细分辨率（目标坐标参考系单位）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="141" />
            <source>Pixel size of the factor stacks, in units of the target CRS (metres for EPSG:6933). Must be finer than SMAP's 9 km.</source>
            <translation>因子堆栈的像元大小，以目标坐标参考系单位表示（EPSG:6933 下为米）。必须比 SMAP 的 9 km 更精细。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="147" />
            <source>Target CRS of the factor stacks</source>
            <translation>因子堆栈的目标坐标参考系</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="147" />
            <source>CRS of the fine grid; EPSG:6933 (SMAP's own EASE-Grid 2.0) when empty.</source>
            <translation>精细格网的坐标参考系；留空时为 EPSG:6933（SMAP 自身的 EASE-Grid 2.0）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="150" />
            <source>Earth Engine Cloud project</source>
            <translation>Earth Engine 云项目</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="150" />
            <source>Google Cloud project registered for Earth Engine. Empty: the plugin settings, then the SMDOWNSCALE_EE_PROJECT environment variable.</source>
            <translation>已注册 Earth Engine 的 Google Cloud 项目。留空：依次使用插件设置、SMDOWNSCALE_EE_PROJECT 环境变量。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="153" />
            <source>Sentinel-1 orbit pass</source>
            <translation>Sentinel-1 轨道方向</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="153" />
            <source>Both</source>
            <translation>升轨和降轨</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="153" />
            <source>Ascending</source>
            <translation>升轨</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="153" />
            <source>Descending</source>
            <translation>降轨</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="153" />
            <source>Restrict Sentinel-1 scenes to one orbit direction (consistent geometry).</source>
            <translation>将 Sentinel-1 景限制为单一轨道方向（观测几何一致）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="157" />
            <source>Parallel requests</source>
            <translation>并行请求数</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="157" />
            <source>Tiles requested at once. Empty: the plugin settings (default 8).</source>
            <translation>同时请求的瓦片数。留空：使用插件设置（默认 8）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="161" />
            <source>Large areas: export instead of downloading</source>
            <translation>大区域：导出而非下载</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="161" />
            <source>No (download)</source>
            <translation>否（下载）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="161" />
            <source>Export to Google Drive</source>
            <translation>导出到 Google Drive</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="161" />
            <source>Export to Cloud Storage</source>
            <translation>导出到 Cloud Storage</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="161" />
            <source>For areas beyond interactive limits: start Earth Engine export tasks (one per file) instead of downloading; they are listed in the manifest and the log.</source>
            <translation>用于超出交互式下载限制的区域：启动 Earth Engine 导出任务（每个文件一个）而不是直接下载；任务列在清单和日志中。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="166" />
            <source>Google Drive folder (default 'smdownscale') or Cloud Storage bucket (required) for exports.</source>
            <translation>导出用的 Google Drive 文件夹（默认“smdownscale”）或 Cloud Storage 存储桶（必填）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="180" />
            <source>Output folder</source>
            <translation>输出文件夹</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="180" />
            <source>Folder receiving smap/, factors/ and manifest.json.</source>
            <translation>存放 smap/、factors/ 和 manifest.json 的文件夹。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="182" />
            <source>Manifest (JSON)</source>
            <translation>清单（JSON）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="183" />
            <source>SMAP rasters (';'-separated)</source>
            <translation>SMAP 栅格（以“;”分隔）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="184" />
            <source>Factor stacks (';'-separated)</source>
            <translation>因子堆栈（以“;”分隔）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="185" />
            <source>Number of time steps</source>
            <translation>时间步数</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="210" />
            <source>Unknown factor {}. Known factors: {}.</source>
            <translation>未知因子 {}。已知因子：{}。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="217" />
            <source>start date</source>
            <translation>开始日期</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="217" />
            <source>end date</source>
            <translation>结束日期</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="219" />
            <source>The {} '{}' is not a date; write it as YYYY-MM-DD.</source>
            <translation>{}“{}”不是日期；请写成 YYYY-MM-DD。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="221" />
            <source>The date range is reversed: the end date {} is before the start date {}. Swap them.</source>
            <translation>日期范围颠倒：结束日期 {} 早于开始日期 {}。请交换两者。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="224" />
            <source>Choose at least one factor.</source>
            <translation>请至少选择一个因子。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="230" />
            <source>Give an extent or a polygon layer for the area to fetch.</source>
            <translation>请给定要获取数据区域的范围或面图层。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="285" />
            <source>{} export task(s) started; follow them in the Earth Engine Code Editor (Tasks tab). The manifest lists them.</source>
            <translation>已启动 {} 个导出任务；请在 Earth Engine 代码编辑器（Tasks 选项卡）中跟踪。清单中列出了这些任务。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="287" />
            <source>Fetched {} time step(s): {} tile(s) downloaded, {} from the cache, {} retried request(s).</source>
            <translation>已获取 {} 个时间步长：下载 {} 个瓦片，{} 个来自缓存，{} 次请求重试。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="171" />
            <source>Follow export tasks until they finish</source>
            <translation>跟踪导出任务直至完成</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="171" />
            <source>With export: keep polling the tasks, showing progress per finished task and reporting Earth Engine's message if one fails; canceling cancels the tasks on Earth Engine. Off: start the tasks and return.</source>
            <translation>使用导出时：持续查询任务状态，按已完成任务显示进度，任务失败时报告 Earth Engine 的消息；取消运行会同时取消 Earth Engine 上的任务。关闭：启动任务后立即返回。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="176" />
            <source>Plan only (dry run)</source>
            <translation>仅规划（试运行）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="176" />
            <source>Compute nothing: write plan.csv in the output folder with, per time step, the requests (or export tasks), pixels, bytes and source pixels Earth Engine would read, and show it in the log. Only SMAP's grid is read from Earth Engine.</source>
            <translation>不进行任何计算：在输出文件夹中写出 plan.csv，列出每个时间步的请求（或导出任务）、像元数、字节数以及 Earth Engine 将读取的源像元数，并显示在日志中。只从 Earth Engine 读取 SMAP 的格网。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="186" />
            <source>Plan (CSV)</source>
            <translation>规划（CSV）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="187" />
            <source>Planned requests or tasks</source>
            <translation>计划请求或任务数</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="188" />
            <source>Planned bytes</source>
            <translation>计划字节数</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="279" />
            <source>Plan written to {}: {} request(s) or task(s), {} bytes; nothing was computed or downloaded.</source>
            <translation>规划已写入 {}：{} 个请求或任务，{} 字节；未计算或下载任何数据。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="75" />
            <source>Downloads from Google Earth Engine, for an area and a date range, SMAP soil moisture and the downscaling factors, on grids and time steps that already agree, ready for screen, train and downscale.

For every time step it writes smap/smap_YYYYMMDD.tif (SMAP as Earth Engine stores it, on the grid read from the asset, the whole cells covering the area) and factors/factors_YYYYMMDD.tif (one band per factor, named after it, on the fine grid: target CRS and resolution, covering the same SMAP cells), plus manifest.json listing files, dates, bands, units and provenance (collections, dataset versions, request time). No credential is ever written.

Factors: Sentinel-1 VV, VH, VV-VH and incidence angle (IW mode); Landsat 8/9 NDVI, NDWI, albedo and surface temperature (cloud-masked); MODIS LST day, night and day-night difference (QC-masked), NDVI, EVI and albedo; elevation, slope and aspect (SRTM); ERA5-Land precipitation (mean mm/day over the step) and antecedent precipitation (total of the 7 days ending with the step); OpenLandMap sand and clay; MODIS land cover (categorical). Data finer than the fine grid are averaged into it (majority class for land cover).

Time steps: daily, 8-day or 16-day (MODIS calendar, restarting each 1 January) or monthly. Sparse sensors (Sentinel-1, Landsat, cloudy MODIS days) are gap-filled from the compositing window: pixels without a valid observation in the step take the composite of the days before and after.

Earth Engine access: an Earth Engine Cloud project (parameter, plugin settings, or the SMDOWNSCALE_EE_PROJECT environment variable) and either your persistent credentials (run 'earthengine authenticate' once) or a service-account key stored in the QGIS authentication database (plugin settings). Nothing pops up. Tiles are downloaded in parallel with retries and kept until the whole request has finished, so a run that fails or is canceled resumes where it stopped. Areas too large for interactive download can be exported to Google Drive or Cloud Storage instead (the tasks are listed in the manifest).</source>
            <translation>针对一个区域和日期范围，从 Google Earth Engine 下载 SMAP 土壤水分和降尺度因子，格网和时间步长已相互匹配，可直接用于因子筛选、训练和降尺度。

每个时间步长写出 smap/smap_YYYYMMDD.tif（SMAP 保持 Earth Engine 存储时的原样，位于从资产读取的格网上，包含覆盖该区域的完整像元）和 factors/factors_YYYYMMDD.tif（每个因子一个波段，以因子命名，位于精细格网：目标坐标参考系和分辨率，覆盖相同的 SMAP 像元），另写出 manifest.json，列出文件、日期、波段、单位和数据来源（数据集合、数据集版本、请求时间）。从不写出任何凭据。

因子：Sentinel-1 VV、VH、VV-VH 和入射角（IW 模式）；Landsat 8/9 NDVI、NDWI、反照率和地表温度（云掩膜）；MODIS 白天、夜间地表温度及昼夜温差（QC 掩膜）、NDVI、EVI 和反照率；高程、坡度和坡向（SRTM）；ERA5-Land 降水（时间步长内的平均 mm/天）和前期降水（截至该时间步长的 7 天总量）；OpenLandMap 砂粒和黏粒含量；MODIS 土地覆盖（类别型）。比精细格网更精细的数据以均值聚合到格网上（土地覆盖取众数类别）。

时间步长：逐日、8 天或 16 天（MODIS 日历，每年 1 月 1 日重新开始）或逐月。稀疏观测的传感器（Sentinel-1、Landsat、多云的 MODIS 日期）用合成窗口填补空缺：在时间步长内没有有效观测的像元取前后若干天的合成值。

Earth Engine 访问：需要一个 Earth Engine 云项目（参数、插件设置或 SMDOWNSCALE_EE_PROJECT 环境变量），以及您的持久凭据（运行一次“earthengine authenticate”）或保存在 QGIS 认证数据库中的服务账号密钥（插件设置）。不会弹出任何窗口。瓦片以并行方式下载并自动重试，在整个请求完成前一直保留，因此失败或被取消的运行可以从中断处继续。对于交互式下载而言过大的区域，可以改为导出到 Google Drive 或 Cloud Storage（任务列在清单中）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="126" />
            <source>L3 enhanced (radiometer, AM/PM)</source>
            <translation>L3 增强型（辐射计，上午/下午）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="132" />
            <source>Root zone (0-100 cm, L4 only)</source>
            <translation>根区（0-100 cm，仅 L4）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="166" />
            <source>Export folder or bucket</source>
            <translation>导出文件夹或存储桶</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="103" />
            <source>or a polygon layer</source>
            <translation>或面图层</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/fetchgee.py" line="106" />
            <source>or an extent</source>
            <translation>或范围</translation>
        </message>
    </context>
    <context>
        <name>GeeParameters</name>
        <message>
            <location filename="../processing_provider/gee_common.py" line="51" />
            <source>The area layer has no polygon; choose a layer with at least one polygon, or give an extent.</source>
            <translation>区域图层中没有多边形；请选择至少含一个多边形的图层，或给定范围。</translation>
        </message>
        <message>
            <location filename="../processing_provider/gee_common.py" line="55" />
            <source>The area layer must hold polygons.</source>
            <translation>区域图层必须包含多边形。</translation>
        </message>
        <message>
            <location filename="../processing_provider/gee_common.py" line="63" />
            <source>The extent has no CRS; give it as 'xmin,xmax,ymin,ymax [EPSG:code]'.</source>
            <translation>范围没有坐标参考系；请按“xmin,xmax,ymin,ymax [EPSG:code]”的格式给定。</translation>
        </message>
        <message>
            <location filename="../processing_provider/gee_common.py" line="82" />
            <source>The plugin settings ask for a service account but no key is stored; import the key in Soil moisture downscaling &gt; Settings…, or switch to your own Earth Engine credentials.</source>
            <translation>插件设置要求使用服务账号，但未保存任何密钥；请在“土壤水分降尺度 &gt; 设置…”中导入密钥，或改用您自己的 Earth Engine 凭据。</translation>
        </message>
    </context>
    <context>
        <name>GeeTaskMonitor</name>
        <message>
            <location filename="../processing_provider/i18n.py" line="32" />
            <source>Earth Engine exports ({} tasks)</source>
            <translation>Earth Engine 导出（{} 个任务）</translation>
        </message>
        <message>
            <location filename="../processing_provider/i18n.py" line="32" />
            <source>All {} Earth Engine task(s) completed; manifest {}</source>
            <translation>全部 {} 个 Earth Engine 任务已完成；清单 {}</translation>
        </message>
        <message>
            <location filename="../processing_provider/i18n.py" line="32" />
            <source>The Earth Engine tasks were not followed to the end.</source>
            <translation>Earth Engine 任务未跟踪至结束。</translation>
        </message>
    </context>
    <context>
        <name>ImportSmapAlgorithm</name>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="72" />
            <source>Import SMAP granules (NASA Earthdata)</source>
            <translation>导入 SMAP 数据文件（NASA Earthdata）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="101" />
            <source>SMAP granules (.h5)</source>
            <translation>SMAP 数据文件（.h5）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="101" />
            <source>SMAP HDF5 granules downloaded from NASA Earthdata (NSIDC), e.g. SMAP_L4_SM_gph_20230601T013000_Vv7032_001.h5. Keep NSIDC's file names.</source>
            <translation>从 NASA Earthdata（NSIDC）下载的 SMAP HDF5 数据文件，例如 SMAP_L4_SM_gph_20230601T013000_Vv7032_001.h5。请保留 NSIDC 的文件名。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="106" />
            <source>Folder of SMAP granules</source>
            <translation>SMAP 数据文件所在文件夹</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="106" />
            <source>Every .h5 file in this folder (not its subfolders) is read as a granule.</source>
            <translation>读取该文件夹（不含子文件夹）中的每个 .h5 文件作为数据文件。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="110" />
            <source>Extent</source>
            <translation>范围</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="110" />
            <source>Area to import, with its CRS. Ignored when a polygon layer is given; without either, the whole global grid.</source>
            <translation>要导入的区域及其坐标参考系。给出面图层时忽略此项；两者都不给时导入整个全球格网。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="113" />
            <source>Area (polygon layer)</source>
            <translation>区域（面图层）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="113" />
            <source>Polygons delimiting the area (all features together). The outputs cover the SMAP cells that intersect the polygons' bounding box.</source>
            <translation>界定区域的多边形（所有要素合并）。输出覆盖与多边形外包矩形相交的 SMAP 像元。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="117" />
            <source>First day to import; empty: the first granule's day.</source>
            <translation>要导入的第一天；留空：第一个数据文件的日期。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="120" />
            <source>Last day to import (included); empty: the last granule's day.</source>
            <translation>要导入的最后一天（含当日）；留空：最后一个数据文件的日期。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="123" />
            <source>Time step</source>
            <translation>时间步长</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="123" />
            <source>Daily</source>
            <translation>逐日</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="123" />
            <source>8-day</source>
            <translation>8 天</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="123" />
            <source>16-day</source>
            <translation>16 天</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="123" />
            <source>Monthly</source>
            <translation>逐月</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="123" />
            <source>Fixed number of days</source>
            <translation>固定天数</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="123" />
            <source>Length of each time step. 8- and 16-day steps follow the MODIS composite calendar; fixed steps start on the start date. The first and last steps are clipped to the date range.</source>
            <translation>每个时间步长的长度。8 天和 16 天步长遵循 MODIS 合成日历；固定天数步长从开始日期起算。第一个和最后一个步长按日期范围截取。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="130" />
            <source>Days per time step (fixed number of days)</source>
            <translation>每个时间步长的天数（固定天数）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="130" />
            <source>Used with the time step 'Fixed number of days'.</source>
            <translation>用于时间步长“固定天数”。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="134" />
            <source>SMAP product</source>
            <translation>SMAP 产品</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="134" />
            <source>Detect from the files</source>
            <translation>根据文件自动识别</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="134" />
            <source>L4 SPL4SMGP (3-hourly, 9 km)</source>
            <translation>L4 SPL4SMGP（每 3 小时，9 km）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="134" />
            <source>The product the granules must belong to; granules of another product are refused.</source>
            <translation>数据文件必须属于的产品；其他产品的数据文件将被拒绝。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="141" />
            <source>SMAP layer</source>
            <translation>SMAP 图层</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="141" />
            <source>Surface soil moisture (0-5 cm)</source>
            <translation>表层土壤水分（0-5 cm）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="141" />
            <source>The soil moisture layer to downscale.</source>
            <translation>要降尺度的土壤水分图层。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="146" />
            <source>AM and PM retrievals (L3)</source>
            <translation>上午和下午反演（L3）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="146" />
            <source>AM, PM where AM has none</source>
            <translation>上午，上午无值处用下午</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="146" />
            <source>AM only (6 am)</source>
            <translation>仅上午（6 时）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="146" />
            <source>PM only (6 pm)</source>
            <translation>仅下午（18 时）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="146" />
            <source>Mean of AM and PM</source>
            <translation>上午和下午的平均值</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="146" />
            <source>How the morning and evening retrievals of L3 granules make one daily value.</source>
            <translation>L3 数据文件的上午和下午反演如何合成为一个日值。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="151" />
            <source>L3 retrievals kept</source>
            <translation>保留的 L3 反演</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="151" />
            <source>Recommended quality only</source>
            <translation>仅推荐质量</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="151" />
            <source>Every successful retrieval</source>
            <translation>所有成功的反演</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="151" />
            <source>retrieval_qual_flag: recommended quality keeps cells with bits 0-2 clear; every successful retrieval keeps cells with bits 1-2 clear.</source>
            <translation>retrieval_qual_flag：“仅推荐质量”保留第 0-2 位均为 0 的像元；“所有成功的反演”保留第 1-2 位均为 0 的像元。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="171" />
            <source>One factor per raster, named by its band description or its file name without the date (ndvi_20230601.tif is 'ndvi'). Dated files inside a time step are averaged; a step without one takes the latest earlier file; files without a date are static.</source>
            <translation>每个栅格一个因子，以其波段描述或去掉日期的文件名命名（ndvi_20230601.tif 即“ndvi”）。时间步长内带日期的文件取平均；没有文件的步长使用此前最近的文件；不带日期的文件为静态因子。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="185" />
            <source>Fine resolution (target CRS units)</source>
            <translation>精细分辨率（目标坐标参考系单位）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="185" />
            <source>Pixel size of the factor stacks, in units of the target CRS (metres for EPSG:6933). Must be finer than the SMAP cells.</source>
            <translation>因子堆栈的像元大小，单位为目标坐标参考系的单位（EPSG:6933 为米）。必须比 SMAP 像元更精细。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="190" />
            <source>Target CRS of the factor stacks</source>
            <translation>因子堆栈的目标坐标参考系</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="190" />
            <source>CRS of the fine grid; EPSG:6933 (SMAP's own EASE-Grid 2.0) when empty.</source>
            <translation>精细格网的坐标参考系；留空时为 EPSG:6933（SMAP 自身的 EASE-Grid 2.0）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="193" />
            <source>Output folder</source>
            <translation>输出文件夹</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="193" />
            <source>Folder receiving smap/, factors/ and manifest.json.</source>
            <translation>存放 smap/、factors/ 和 manifest.json 的文件夹。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="195" />
            <source>Manifest (JSON)</source>
            <translation>清单（JSON）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="196" />
            <source>SMAP rasters (';'-separated)</source>
            <translation>SMAP 栅格（以“;”分隔）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="197" />
            <source>Factor stacks (';'-separated)</source>
            <translation>因子堆栈（以“;”分隔）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="198" />
            <source>Number of time steps</source>
            <translation>时间步数</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="223" />
            <source>The granule folder {} does not exist; choose the folder holding the .h5 files.</source>
            <translation>数据文件夹 {} 不存在；请选择存放 .h5 文件的文件夹。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="235" />
            <source>The folder {} holds no .h5 granule; choose the folder holding the SMAP files downloaded from NASA Earthdata.</source>
            <translation>文件夹 {} 中没有 .h5 数据文件；请选择存放从 NASA Earthdata 下载的 SMAP 文件的文件夹。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="237" />
            <source>Give the SMAP granules (.h5 files) or the folder holding them.</source>
            <translation>请给出 SMAP 数据文件（.h5 文件）或存放它们的文件夹。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="241" />
            <source>'{}' ({}) is not a date; write it as YYYY-MM-DD.</source>
            <translation>“{}”（{}）不是日期；请写成 YYYY-MM-DD。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="320" />
            <source>Imported {} granule(s) of {} ({}) into {} time step(s).</source>
            <translation>已将 {} 个 {}（{}）数据文件导入 {} 个时间步长。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="323" />
            <source>No SMAP data for these time steps (nothing written for them): {}</source>
            <translation>以下时间步长没有 SMAP 数据（未为其写出任何内容）：{}</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="156" />
            <source>Search NASA's CMR for the chosen product over the area and dates and download the granules (resumably, into the cache folder) before importing them. Needs the product, the dates and an Earthdata Login token.</source>
            <translation>导入前，在 NASA 的 CMR 中按区域和日期搜索所选产品，并将数据文件下载到缓存文件夹（可续传）。需要指定产品、日期和 Earthdata Login 令牌。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="167" />
            <source>Download cache folder</source>
            <translation>下载缓存文件夹</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="167" />
            <source>Where downloaded granules are kept (and found again by later runs). Empty: the plugin's cache folder.</source>
            <translation>下载的数据文件保存位置（之后的运行会再次使用）。留空：插件的缓存文件夹。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="228" />
            <source>Choose the SMAP product to search and download (it cannot be detected before the files are there).</source>
            <translation>请选择要搜索和下载的 SMAP 产品（文件下载之前无法自动识别）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="232" />
            <source>Give the start and end dates of the granules to download.</source>
            <translation>请给出要下载的数据文件的开始和结束日期。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="75" />
            <source>Reads SMAP soil moisture granules as NSIDC distributes them through NASA Earthdata (HDF5 files), without Google Earth Engine: SMAP L4 SPL4SMGP (3-hourly, sm_surface and sm_rootzone, 9 km), enhanced L3 SPL3SMP_E (daily AM and PM retrievals, 9 km) and L3 SPL3SMP (daily, 36 km).

The granules carry no georeferencing that GDAL can use: the algorithm places them exactly on the documented EASE-Grid 2.0 global lattice (EPSG:6933, cells of 9008.055210146 m or 36032.220840584 m) and checks the granules' own latitude/longitude arrays against it. Fill values, values outside the valid range and, for L3, retrievals whose quality flag is not 'recommended' (or, if chosen, not successful) become nodata. Granules are subset to the whole SMAP cells covering the area and averaged over each time step (daily, 8- or 16-day on the MODIS calendar, monthly, or a fixed number of days); AM and PM retrievals are combined as chosen.

It writes smap/smap_YYYYMMDD.tif per time step and manifest.json in the format 'Fetch data from Earth Engine' writes. Give factor rasters (one factor per GeoTIFF, named by band description or file name; a date in the file name makes it a time series, files without a date are static) and/or MODIS LST and NDVI files as downloaded (HDF4-EOS tiles or AppEEARS exports; quality-masked and scaled) to also write factors/factors_YYYYMMDD.tif on the fine grid: then screen, train and downscale take the manifest unchanged. Granules of mixed products or versions, damaged or subset files and granules without data in the area are refused with a message; nothing is written then.

With 'Search and download', the granules of the chosen product for the area and dates are first searched in NASA's CMR with NASA's earthaccess library and downloaded into a cache folder; an interrupted download resumes, and granules already in the cache are not downloaded again. Earthdata Login: a QGIS authentication configuration (user name and password, or a token as password), or for qgis_process the EARTHDATA_USERNAME and EARTHDATA_PASSWORD (or EARTHDATA_TOKEN) environment variables or a netrc file. Credentials are never written to settings, logs or outputs.</source>
            <translation>读取 NSIDC 通过 NASA Earthdata 分发的 SMAP 土壤水分数据文件（HDF5 文件），无需 Google Earth Engine：SMAP L4 SPL4SMGP（每 3 小时，sm_surface 和 sm_rootzone，9 km）、增强型 L3 SPL3SMP_E（每日上午和下午反演，9 km）以及 L3 SPL3SMP（每日，36 km）。

这些数据文件不带 GDAL 可用的地理参考：本算法按文档给出的 EASE-Grid 2.0 全球格网（EPSG:6933，像元 9008.055210146 m 或 36032.220840584 m）精确定位，并用文件自带的经纬度数组进行核对。填充值、超出有效范围的值，以及（L3）质量标志不是“推荐”（或按选择，不是“成功”）的反演值均设为无数据。数据按覆盖区域的完整 SMAP 像元裁剪，并在每个时间步长内平均（每日、按 MODIS 日历的 8 天或 16 天、每月或固定天数）；上午和下午反演按所选方式合并。

每个时间步长写出 smap/smap_YYYYMMDD.tif，并以“从 Earth Engine 获取数据”的格式写出 manifest.json。如给出因子栅格（每个 GeoTIFF 一个因子，以波段描述或文件名命名；文件名中带日期的构成时间序列，不带日期的为静态因子）和/或按原样下载的 MODIS 地表温度与 NDVI 文件（HDF4-EOS 分块或 AppEEARS 导出文件；经质量掩膜并按比例换算），还会在精细格网上写出 factors/factors_YYYYMMDD.tif：这样因子筛选、训练和降尺度可直接使用该清单。混合不同产品或版本的数据文件、损坏或经过裁剪的文件以及区域内没有数据的文件会被拒绝并给出说明；此时不写出任何内容。

选择“搜索并下载”时，先用 NASA 的 earthaccess 库在 NASA 的 CMR 中按区域和日期搜索所选产品的数据文件，并下载到缓存文件夹；中断的下载会续传，缓存中已有的数据文件不会重复下载。Earthdata Login：QGIS 认证配置（用户名和密码，或将令牌作为密码），或用于 qgis_process 的 EARTHDATA_USERNAME 和 EARTHDATA_PASSWORD（或 EARTHDATA_TOKEN）环境变量，或 netrc 文件。凭据绝不会写入设置、日志或输出。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="161" />
            <source>A QGIS authentication configuration (Basic) holding your Earthdata Login: user name and password, or an empty user name and a token as password. Empty: the EARTHDATA_USERNAME and EARTHDATA_PASSWORD (or EARTHDATA_TOKEN) environment variables, else a netrc file (~/.netrc or NETRC).</source>
            <translation>保存您的 Earthdata Login 的 QGIS 认证配置（Basic 类型）：用户名和密码，或用户名留空、令牌填在密码中。留空：使用 EARTHDATA_USERNAME 和 EARTHDATA_PASSWORD（或 EARTHDATA_TOKEN）环境变量，否则使用 netrc 文件（~/.netrc 或 NETRC 指定的文件）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="177" />
            <source>MODIS files as downloaded, with NASA's or AppEEARS' names: MOD11A1/MOD11A2 (LST day and night, QC_Day/QC_Night) and MOD13A2 (NDVI, pixel reliability), or the MYD twins; HDF4-EOS tiles, HDF5/NetCDF files holding those layers, or AppEEARS GeoTIFF layers (each value layer with its quality layer). Clouds and failed retrievals are masked, values scaled (LST x 0.02 K, NDVI x 0.0001) and used as the factors lst_day, lst_night and ndvi.</source>
            <translation>按原样下载的 MODIS 文件，保留 NASA 或 AppEEARS 的文件名：MOD11A1/MOD11A2（白天和夜间地表温度，QC_Day/QC_Night）和 MOD13A2（NDVI，像元可靠性），或对应的 MYD 产品；HDF4-EOS 分块、包含这些图层的 HDF5/NetCDF 文件，或 AppEEARS GeoTIFF 图层（每个数值图层需附带其质量图层）。云和反演失败的像元被掩膜，数值按比例换算（地表温度 x 0.02 K，NDVI x 0.0001），并用作因子 lst_day、lst_night 和 ndvi。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="257" />
            <source>The authentication configuration {} holds no Earthdata Login password or token, or the authentication database is locked.</source>
            <translation>认证配置 {} 中没有 Earthdata Login 密码或令牌，或认证数据库已锁定。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="141" />
            <source>Root zone (0-100 cm, L4 only)</source>
            <translation>根区（0-100 cm，仅 L4）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="101" />
            <source>or a folder, or download</source>
            <translation>或文件夹，或下载</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="106" />
            <source>or granules, or download</source>
            <translation>或数据文件，或下载</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="117" />
            <source>Start date (YYYY-MM-DD)</source>
            <translation>开始日期（YYYY-MM-DD）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="120" />
            <source>End date (YYYY-MM-DD)</source>
            <translation>结束日期（YYYY-MM-DD）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="134" />
            <source>L3 SPL3SMP_E (daily, 9 km)</source>
            <translation>L3 SPL3SMP_E（每日，9 km）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="134" />
            <source>L3 SPL3SMP (daily, 36 km)</source>
            <translation>L3 SPL3SMP（每日，36 km）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="156" />
            <source>Search and download (NASA Earthdata)</source>
            <translation>搜索并下载（NASA Earthdata）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="161" />
            <source>Earthdata Login configuration</source>
            <translation>Earthdata Login 认证配置</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="171" />
            <source>Factor rasters</source>
            <translation>因子栅格</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/importsmap.py" line="177" />
            <source>MODIS LST / NDVI files</source>
            <translation>MODIS 地表温度 / NDVI 文件</translation>
        </message>
    </context>
    <context>
        <name>QualityStyle</name>
        <message>
            <location filename="../processing_provider/layers.py" line="168" />
            <source>All factors observed</source>
            <translation>所有因子均有观测</translation>
        </message>
        <message>
            <location filename="../processing_provider/layers.py" line="169" />
            <source>Missing factors filled (coarse-cell means)</source>
            <translation>缺失因子已填补（粗像元均值）</translation>
        </message>
        <message>
            <location filename="../processing_provider/layers.py" line="170" />
            <source>Coarse field only (no factor observed)</source>
            <translation>仅粗分辨率场（无因子观测）</translation>
        </message>
        <message>
            <location filename="../processing_provider/layers.py" line="171" />
            <source>Factors partly from a neighbouring date</source>
            <translation>部分因子取自相邻日期</translation>
        </message>
    </context>
    <context>
        <name>SampleDataAlgorithm</name>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="40" />
            <source>Create sample dataset</source>
            <translation>创建示例数据集</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="43" />
            <source>Writes a synthetic demonstration scene with a known answer, so the whole chain (align, screen, train, downscale, validate) can be tried without Earth Engine. The scene covers size x size km of semi-arid grassland in Xilingol, Inner Mongolia (centre 116.0 E, 43.5 N) and is the same for the same seed.

Grids: factors and truth on a 1 km equal-area Albers grid for China; SMAP on its own EASE-Grid 2.0 9 km cells (EPSG:6933), not aligned with the 1 km grid; precipitation on a CHIRPS-like 0.05 degree grid (EPSG:4326).

Files: static/elevation.tif, slope.tif, landcover.tif (classes 10 cropland, 20 grassland, 30 forest, 40 barren/sparse, 50 shrub, 80 water); dynamic/ndvi, lst_day, lst_night (K), vv, vh (dB), precipitation (antecedent 7 days, mm) per date (name_YYYYMMDD.tif); smap/smap_YYYYMMDD.tif and truth/truth_YYYYMMDD.tif (m3/m3); scene.json (parameters, grids, coefficients, statistics).

Physics: terrain from smoothed noise at several scales (ridges, valleys, hills; 900-1800 m) and its slope; land cover from a moisture index (arid west, wetter east, valleys wetter); NDVI from land cover, moisture and season; day and night LST warmer in the dry west, cooler with NDVI and height; precipitation a smooth field with a west-east gradient that changes by date. The truth is
SM = 0.195 + date offset + 0.18 (NDVI - 0.3) + 0.025 (P - 10)/10 - 0.045 (LSTday - 303)/10 - 0.02 (LSTday - LSTnight - 17)/10 + terrain x [-0.04 slope/5 + 0.008 (elevation - 1250)/500] + land cover offset (cropland +0.03, forest +0.02, shrub -0.015, barren -0.04)
plus spatially correlated noise (3-8 km), clipped to 0.02-0.50. Nonlinearity blends in a saturating response to rain (tanh), an NDVI x LST interaction and a threshold drying of hot, sparsely vegetated ground. VV = -19 + 25 SM + 2 NDVI + noise (dB); VH = VV - 8 + 4 NDVI + noise. SMAP = mean of the valid truth pixels of each 9 km cell (nodata when less than half valid) plus a retrieval error. Lakes are nodata in the truth, SMAP (where they fill a cell), NDVI, LST, VV and VH; cloud gaps are nodata in that date's NDVI and LST only.</source>
            <translation>写出一个答案已知的合成演示场景，无需 Earth Engine 即可试用整个流程（对齐、筛选、训练、降尺度、验证）。场景覆盖内蒙古锡林郭勒半干旱草原上 size x size km 的区域（中心 116.0 E，43.5 N），相同的种子生成相同的场景。

格网：因子和真值位于中国 1 km 等积 Albers 格网；SMAP 位于其自身的 EASE-Grid 2.0 9 km 像元（EPSG:6933），与 1 km 格网不对齐；降水位于类似 CHIRPS 的 0.05 度格网（EPSG:4326）。

文件：static/elevation.tif、slope.tif、landcover.tif（类别 10 耕地、20 草地、30 森林、40 裸地/稀疏植被、50 灌丛、80 水体）；每个日期的 dynamic/ndvi、lst_day、lst_night（K）、vv、vh（dB）、precipitation（前 7 天降水，mm）（name_YYYYMMDD.tif）；smap/smap_YYYYMMDD.tif 和 truth/truth_YYYYMMDD.tif（m3/m3）；scene.json（参数、格网、系数、统计量）。

物理过程：地形由多个尺度的平滑噪声生成（山脊、山谷、丘陵；900-1800 m）及其坡度；土地覆盖由湿润指数决定（西部干旱，东部较湿润，山谷较湿润）；NDVI 由土地覆盖、湿润程度和季节决定；白天和夜间地表温度在干燥的西部较高，随 NDVI 和高度升高而降低；降水为具有随日期变化的西东梯度的平滑场。真值为
SM = 0.195 + date offset + 0.18 (NDVI - 0.3) + 0.025 (P - 10)/10 - 0.045 (LSTday - 303)/10 - 0.02 (LSTday - LSTnight - 17)/10 + terrain x [-0.04 slope/5 + 0.008 (elevation - 1250)/500] + land cover offset（耕地 +0.03，森林 +0.02，灌丛 -0.015，裸地 -0.04）
再加上空间相关噪声（3-8 km），并截断到 0.02-0.50。其中 date offset 为日期偏移，terrain 为地形效应，land cover offset 为土地覆盖偏移。非线性程度控制混入的三种效应：对降雨的饱和响应（tanh）、NDVI x LST 交互作用，以及高温稀疏植被地表的阈值式变干。VV = -19 + 25 SM + 2 NDVI + 噪声（dB）；VH = VV - 8 + 4 NDVI + 噪声。SMAP = 每个 9 km 像元内有效真值像元的均值（有效像元不足一半时为无数据值）加上反演误差。湖泊在真值、SMAP（湖泊占满整个像元时）、NDVI、LST、VV 和 VH 中为无数据值；云造成的空缺仅在该日期的 NDVI 和 LST 中为无数据值。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="70" />
            <source>Random seed</source>
            <translation>随机种子</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="70" />
            <source>The same seed (and parameters) gives exactly the same scene.</source>
            <translation>相同的种子（和参数）会生成完全相同的场景。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="74" />
            <source>Scene size (km)</source>
            <translation>场景大小（km）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="74" />
            <source>Width and height of the square scene in km (1 km pixels).</source>
            <translation>正方形场景的宽度和高度，单位 km（像元大小 1 km）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="78" />
            <source>Number of dates</source>
            <translation>日期数</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="78" />
            <source>How many dates of dynamic factors, SMAP and truth to write.</source>
            <translation>要写出多少个日期的动态因子、SMAP 和真值。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="82" />
            <source>First date (YYYY-MM-DD)</source>
            <translation>第一个日期（YYYY-MM-DD）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="82" />
            <source>Date of the first scene; the season shapes NDVI and LST.</source>
            <translation>第一个场景的日期；季节会影响 NDVI 和 LST。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="85" />
            <source>Days between dates</source>
            <translation>日期间隔（天）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="85" />
            <source>Interval between consecutive dates, in days.</source>
            <translation>相邻两个日期之间的间隔，单位为天。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="89" />
            <source>Truth noise (m3/m3)</source>
            <translation>真值噪声（m3/m3）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="89" />
            <source>Standard deviation of the spatially correlated (3-8 km) part of the truth that no factor explains.</source>
            <translation>真值中无法由任何因子解释的空间相关（3-8 km）部分的标准差。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="94" />
            <source>Terrain effect</source>
            <translation>地形效应</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="94" />
            <source>Scales the effect of slope and elevation on soil moisture (0 switches it off).</source>
            <translation>缩放坡度和高程对土壤水分的影响（0 表示关闭）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="99" />
            <source>Nonlinearity</source>
            <translation>非线性程度</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="99" />
            <source>0 = soil moisture linear in the factors; 1 = saturating response to rain, an NDVI x LST interaction and threshold drying of hot bare ground.</source>
            <translation>0 = 土壤水分与各因子呈线性关系；1 = 对降雨的饱和响应、NDVI x LST 交互作用以及高温裸露地表的阈值式变干。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="104" />
            <source>SMAP retrieval error (m3/m3)</source>
            <translation>SMAP 反演误差（m3/m3）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="104" />
            <source>Standard deviation of the independent error added to each SMAP cell (0 = SMAP is exactly the cell mean of the truth).</source>
            <translation>加到每个 SMAP 像元上的独立误差的标准差（0 = SMAP 恰好等于真值在该像元内的均值）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="109" />
            <source>Output folder</source>
            <translation>输出文件夹</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="109" />
            <source>Folder for the scene (an empty folder, or one holding an earlier sample scene, which is replaced).</source>
            <translation>场景的存放文件夹（空文件夹，或包含先前示例场景的文件夹，其内容将被替换）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="112" />
            <source>Factor files (';'-separated)</source>
            <translation>因子文件（以“;”分隔）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="113" />
            <source>SMAP files (';'-separated)</source>
            <translation>SMAP 文件（以“;”分隔）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="114" />
            <source>Truth files (';'-separated)</source>
            <translation>真值文件（以“;”分隔）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="115" />
            <source>Dates (';'-separated, YYYY-MM-DD)</source>
            <translation>日期（以“;”分隔，YYYY-MM-DD）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="116" />
            <source>1 km reference grid (elevation)</source>
            <translation>1 km 参考格网（高程）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="136" />
            <source>Sample scene: {} dates ({}), {} x {} km at 1 km, {} x {} SMAP cells, in {}</source>
            <translation>示例场景：{} 个日期（{}），{} x {} km，分辨率 1 km，{} x {} 个 SMAP 像元，位于 {}</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="142" />
            <source>Sample land cover</source>
            <translation>示例土地覆盖</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="142" />
            <source>Sample SMAP {}</source>
            <translation>示例 SMAP {}</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/sampledata.py" line="142" />
            <source>Sample truth {}</source>
            <translation>示例真值 {}</translation>
        </message>
    </context>
    <context>
        <name>ScreenAlgorithm</name>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="57" />
            <source>Screen factors (correlation analysis)</source>
            <translation>因子筛选（相关分析）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="101" />
            <source>A factor correlated more strongly than this with a better-ranked selected factor is dropped. 1 keeps every factor.</source>
            <translation>若某因子与排名更靠前的已选因子的相关性超过此值，则将其剔除。取 1 时保留所有因子。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="115" />
            <source>Minimum |r| with soil moisture</source>
            <translation>与土壤水分的最小 |r|</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="115" />
            <source>Factors correlating more weakly than this with soil moisture are dropped.</source>
            <translation>与土壤水分的相关性弱于此值的因子将被剔除。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="119" />
            <source>Keep at most this many factors, best ranked first. 0 keeps all that pass.</source>
            <translation>最多保留这么多个因子，按排名优先。0 表示保留所有通过筛选的因子。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="122" />
            <source>Drop, one at a time, the kept continuous factor whose VIF against the other kept factors exceeds this (5 or 10 are usual). 0 switches the filter off.</source>
            <translation>每次剔除一个相对于其他保留因子的 VIF 超过此值的保留连续型因子（通常取 5 或 10）。0 表示关闭该筛选。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="126" />
            <source>Compute VIF, mutual information and permutation importance</source>
            <translation>计算 VIF、互信息和置换重要性</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="126" />
            <source>Adds the columns vif, mutual_info and perm_importance (a quick random forest; needs scikit-learn) and their values in the reasons.</source>
            <translation>增加 vif、mutual_info 和 perm_importance 列（使用快速随机森林；需要 scikit-learn），并在原因中给出其数值。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="131" />
            <source>Computed from the stack bands when their inputs are present and screened with the other factors.</source>
            <translation>当所需输入波段存在时由堆栈波段计算，并与其他因子一起参与筛选。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="135" />
            <source>Screening table</source>
            <translation>筛选结果表</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="135" />
            <source>CSV files (*.csv)</source>
            <translation>CSV 文件 (*.csv)</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="135" />
            <source>CSV table with one row per factor, in rank order.</source>
            <translation>CSV 表，每个因子一行，按排名排序。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="138" />
            <source>Screening report</source>
            <translation>筛选报告</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="138" />
            <source>HTML files (*.html)</source>
            <translation>HTML 文件 (*.html)</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="138" />
            <source>HTML report: factors ranked by their correlation with soil moisture (selected and dropped), the correlation heatmap and the table; shown in the Processing results viewer.</source>
            <translation>HTML 报告：按与土壤水分的相关性排序的因子（已选和已剔除）、相关系数热图和结果表；显示在处理结果查看器中。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="144" />
            <source>Selected factors (comma-separated)</source>
            <translation>已选因子（以逗号分隔）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="178" />
            <source>{} coarse samples over {} date(s).</source>
            <translation>{} 个粗分辨率样本，共 {} 个日期。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="187" />
            <source>yes</source>
            <translation>是</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="187" />
            <source>no</source>
            <translation>否</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="190" />
            <source>Selected factors: {}</source>
            <translation>已选因子：{}</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="194" />
            <source>Maximum collinearity</source>
            <translation>最大共线性</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="196" />
            <source>Minimum |r|</source>
            <translation>最小 |r|</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="197" />
            <source>Maximum number of factors</source>
            <translation>最大因子数</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="198" />
            <source>no limit</source>
            <translation>不限</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="199" />
            <source>Maximum VIF</source>
            <translation>最大 VIF</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="199" />
            <source>off</source>
            <translation>关闭</translation>
        </message>
        <message>
            <location filename="../processing_provider/i18n.py" line="32" />
            <source>rank</source>
            <translation>排名</translation>
        </message>
        <message>
            <location filename="../processing_provider/i18n.py" line="32" />
            <source>factor</source>
            <translation>因子</translation>
        </message>
        <message>
            <location filename="../processing_provider/i18n.py" line="32" />
            <source>r/eta</source>
            <translation>r/eta</translation>
        </message>
        <message>
            <location filename="../processing_provider/i18n.py" line="32" />
            <source>rho</source>
            <translation>rho</translation>
        </message>
        <message>
            <location filename="../processing_provider/i18n.py" line="32" />
            <source>kept</source>
            <translation>保留</translation>
        </message>
        <message>
            <location filename="../processing_provider/i18n.py" line="32" />
            <source>reason</source>
            <translation>原因</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="163" />
            <source>SMAP values read with {}.</source>
            <translation>SMAP 值按 {} 读取。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="203" />
            <source>SMAP values</source>
            <translation>SMAP 值</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="101" />
            <source>Maximum collinearity |r|</source>
            <translation>最大共线性 |r|</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="119" />
            <source>Maximum factors (0 = no limit)</source>
            <translation>最多因子数（0 = 不限）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="122" />
            <source>Maximum VIF (0 = off)</source>
            <translation>最大 VIF（0 = 关闭）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="200" />
            <source>Collinearity filter</source>
            <translation>共线性筛选</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="106" />
            <source>Study's correlation screening</source>
            <translation>原研究的相关性筛选</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="106" />
            <source>Decided by the scale-transfer check</source>
            <translation>由尺度迁移检验决定</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="106" />
            <source>Off</source>
            <translation>关闭</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="106" />
            <source>Study's: of two collinear factors the weaker one is dropped, as the reference study screens. Scale-transfer check: such a factor is dropped only when a random forest trained on grids 2x and 3x coarser than SMAP predicts SMAP's cells no worse without it (tree models use collinear factors well). Off: no factor is dropped for collinearity.</source>
            <translation>原研究方式：两个共线因子中较弱的一个被剔除，与参考研究的筛选方式相同。尺度迁移检验：仅当在比 SMAP 粗 2 倍和 3 倍的网格上训练的随机森林在没有该因子时预测 SMAP 像元并不更差时，才剔除该因子（树模型能很好地利用共线因子）。关闭：不因共线性剔除任何因子。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="60" />
            <source>Required: both lists (SMAP rasters and factor stacks, one per date), or a fetch manifest instead of both. For QGIS (qgis_process, models) all three are optional parameters because either way is complete; the dialog labels them with the alternative, and the algorithm names what is missing before anything runs.

Ranks the downscaling factors by how strongly they relate to SMAP soil moisture and selects a non-redundant subset for smdownscale:train.

For every date, the 1 km factor stack is averaged onto the SMAP grid (each coarse cell gets the mean of the 1 km pixels whose centers fall in it; land cover becomes class fractions) and paired with the SMAP value; all dates are pooled. For each continuous factor the table gives Pearson and Spearman correlation with their p-values; a categorical factor (land cover) is judged as a whole by the correlation ratio eta of soil moisture over the dominant class of each cell (p-value from one-way ANOVA), in the Pearson column.

Factors are ranked by |r| (eta) and taken in that order: a factor whose correlation with an already selected one exceeds the maximum collinearity is dropped, and the table names the factor it duplicates. Factors below the minimum |r| and those beyond the maximum number are dropped too.

Beyond pairwise r (diagnostics, on by default): the variance inflation factor (VIF) of each continuous factor against the other kept factors, which catches a factor explained by several others together; the mutual information with soil moisture, which also sees nonlinear relations; and the permutation importance from a quick random forest (how much the held-out RMSE grows, in m3/m3, when the factor is shuffled in spatial blocks the forest did not see). With a maximum VIF above 1, the kept factor with the largest VIF above it is dropped, one at a time. The reason column says why each factor was kept or dropped.

Derived factors (optional) are computed from the stack bands when their inputs are present: lst_diff (lst_day - lst_night), tvdi (NDVI-LST space with a fitted dry edge) and api (from daily precipitation_lag&lt;d&gt; bands).

Outputs: a CSV table (factor, kind, n, pearson_r, pearson_p, spearman_r, spearman_p, rank, selected, reason, and with the diagnostics vif, mutual_info, perm_importance) and the selected factor names, comma-separated, ready for the 'Factors to use' input of smdownscale:train in a model. Neighbouring cells are autocorrelated, so p-values are optimistic: use them to rank, not as proof.

Units: SMAP soil moisture must be in m3/m3; percent, scaled integers or an undeclared fill value (e.g. -9999) stop the run with the fix. The advanced parameters SM_SCALE (factor to m3/m3, 0.01 for percent) and SM_NODATA (a fill value the file does not declare) say how to read SMAP. NDVI-like factors must lie within -1 to 1.</source>
            <translation>必填：两个列表（SMAP 栅格和因子堆栈，每个日期一个），或改用一个数据获取清单代替这两个列表。对 QGIS（qgis_process、模型）而言，三者都是可选参数，因为任一种方式都是完整的；对话框在其标签中注明可替代的输入，算法在运行前会指出缺少什么。

按各降尺度因子与 SMAP 土壤水分关系的强弱进行排序，并为 smdownscale:train 选出一组互不冗余的因子。

对每个日期，将 1 km 因子堆栈以均值聚合到 SMAP 格网上（每个粗像元取中心落在其中的 1 km 像元的均值；土地覆盖转为各类别所占比例），并与 SMAP 值配对；所有日期的样本合并在一起。对每个连续型因子，结果表给出 Pearson 和 Spearman 相关系数及其 p 值；类别型因子（土地覆盖）作为整体，以土壤水分关于各像元主导类别的相关比 eta 衡量（p 值来自单因素方差分析），列在 Pearson 列中。

因子按 |r|（eta）排序并依次选取：若某因子与已选因子的相关性超过最大共线性，则将其剔除，结果表会注明它与哪个因子重复。|r| 低于最小值的因子以及超出最大数量的因子也会被剔除。

成对 r 之外的诊断（默认开启）：每个连续型因子相对于其他保留因子的方差膨胀因子（VIF），可发现能被其他几个因子共同解释的因子；与土壤水分的互信息，也能反映非线性关系；以及由一个快速随机森林得到的置换重要性（在随机森林未见过的空间块中打乱该因子时，留出样本 RMSE 增加多少，单位 m3/m3）。最大 VIF 大于 1 时，每次剔除一个 VIF 最大且超过该值的保留因子。reason 列说明每个因子被保留或剔除的原因。

派生因子（可选）在所需输入波段存在时由堆栈波段计算：lst_diff（lst_day - lst_night）、tvdi（基于 NDVI-LST 特征空间并拟合干边）和 api（由逐日的 precipitation_lag&lt;d&gt; 波段计算）。

输出：CSV 表（factor、kind、n、pearson_r、pearson_p、spearman_r、spearman_p、rank、selected、reason，启用诊断时还有 vif、mutual_info、perm_importance），以及以逗号分隔的已选因子名称，可直接用作模型中 smdownscale:train 的“要使用的因子”输入。相邻像元存在自相关，因此 p 值偏乐观：请用于排序，而不要作为证明。

单位：SMAP 土壤水分必须为 m3/m3；百分比、缩放后的整数或未声明的填充值（如 -9999）会使运行停止，并给出修正方法。高级参数 SM_SCALE（换算为 m3/m3 的系数，百分比为 0.01）和 SM_NODATA（文件未声明的填充值）说明如何读取 SMAP。类 NDVI 因子必须位于 -1 到 1 之间。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="180" />
            <source>Derived factor {} was not computed: it {}.</source>
            <translation>派生因子 {} 未计算：{}。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/screen.py" line="182" />
            <source>Date {} was left out: {} missing at every pixel of its factor stack (all under cloud, or without a radar overpass).</source>
            <translation>日期 {} 已略去：其因子堆栈的所有像元上都缺少 {}（整天有云，或没有雷达过境）。</translation>
        </message>
    </context>
    <context>
        <name>SettingsDialog</name>
        <message>
            <location filename="../ui/settings_dialog.py" line="387" />
            <source>Soil moisture downscaling — settings</source>
            <translation>土壤水分降尺度 — 设置</translation>
        </message>
    </context>
    <context>
        <name>SettingsOptionsFactory</name>
        <message>
            <location filename="../ui/settings_dialog.py" line="429" />
            <source>Soil moisture downscaling</source>
            <translation>土壤水分降尺度</translation>
        </message>
    </context>
    <context>
        <name>SettingsWidget</name>
        <message>
            <location filename="../ui/settings_dialog.py" line="71" />
            <source>e.g. my-cloud-project</source>
            <translation>例如 my-cloud-project</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="72" />
            <source>Google Cloud project registered for Earth Engine; requests are billed to and limited by it.</source>
            <translation>已注册 Earth Engine 的 Google Cloud 项目；请求计入该项目的费用并受其配额限制。</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="76" />
            <source>Service account key, kept in the QGIS authentication database</source>
            <translation>服务账号密钥，保存在 QGIS 认证数据库中</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="110" />
            <source>Import key file…</source>
            <translation>导入密钥文件…</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="111" />
            <source>Store a service-account JSON key (Google Cloud console &gt; IAM &gt; Service accounts &gt; Keys) in the QGIS authentication database, encrypted with the master password.</source>
            <translation>将服务账号 JSON 密钥（Google Cloud 控制台 &gt; IAM &gt; 服务账号 &gt; 密钥）保存到 QGIS 认证数据库中，并用主密码加密。</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="123" />
            <source>default (https://earthengine.googleapis.com)</source>
            <translation>默认（https://earthengine.googleapis.com）</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="124" />
            <source>Leave empty for the standard endpoint. https://earthengine-highvolume.googleapis.com suits many parallel requests.</source>
            <translation>留空则使用标准端点。https://earthengine-highvolume.googleapis.com 适合大量并行请求。</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="128" />
            <source>Test connection</source>
            <translation>测试连接</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="135" />
            <source>Google Earth Engine</source>
            <translation>Google Earth Engine</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="137" />
            <source>Cloud project id</source>
            <translation>云项目 ID</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="145" />
            <source>Sign in with</source>
            <translation>登录方式</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="146" />
            <source>Endpoint</source>
            <translation>端点</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="156" />
            <source>Cache folder for Earth Engine downloads</source>
            <translation>Earth Engine 下载数据的缓存文件夹</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="157" />
            <source>Downloaded tiles are kept here and not downloaded again.</source>
            <translation>已下载的瓦片保存在此处，不会重复下载。</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="160" />
            <source>Earth Engine requests sent at the same time. Lower it if Earth Engine reports too many requests.</source>
            <translation>同时发送的 Earth Engine 请求数。如果 Earth Engine 报告请求过多，请调低此值。</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="162" />
            <source>Downloads</source>
            <translation>下载</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="164" />
            <source>Cache folder</source>
            <translation>缓存文件夹</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="165" />
            <source>Parallel requests</source>
            <translation>并行请求数</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="206" />
            <source>Choose the authentication configuration holding the service-account key, or import the key file.</source>
            <translation>请选择保存服务账号密钥的认证配置，或导入密钥文件。</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="210" />
            <source>The endpoint must be a URL starting with https://.</source>
            <translation>端点必须是以 https:// 开头的 URL。</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="213" />
            <source>The cache folder '{path}' is a file; choose a folder.</source>
            <translation>缓存文件夹“{path}”是一个文件；请选择一个文件夹。</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="238" />
            <source>Service-account key</source>
            <translation>服务账号密钥</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="238" />
            <source>JSON key (*.json);;All files (*)</source>
            <translation>JSON 密钥 (*.json);;所有文件 (*)</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="250" />
            <source>Cannot read {path}: {error}</source>
            <translation>无法读取 {path}：{error}</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="257" />
            <source>Key stored in the QGIS authentication database (configuration {id}); the key file itself is no longer needed by QGIS.</source>
            <translation>密钥已保存在 QGIS 认证数据库中（配置 {id}）；QGIS 不再需要密钥文件本身。</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="343" />
            <source>Choose or import a service-account key first.</source>
            <translation>请先选择或导入服务账号密钥。</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="356" />
            <source>Connecting to Earth Engine…</source>
            <translation>正在连接 Earth Engine…</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="75" />
            <source>My Google account</source>
            <translation>我的 Google 账号</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="80" />
            <source>Sign in once: your browser opens Google's sign-in page and the credentials are saved on this computer for QGIS and qgis_process (the same as running  earthengine authenticate  in a terminal).</source>
            <translation>登录一次即可：浏览器会打开 Google 的登录页面，凭据会保存在本机，供 QGIS 和 qgis_process 使用（与在终端中运行  earthengine authenticate  相同）。</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="85" />
            <source>Sign in with Google…</source>
            <translation>使用 Google 登录…</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="86" />
            <source>Opens Google's sign-in page in your browser; QGIS receives the answer on this computer and saves the Earth Engine credentials.</source>
            <translation>在浏览器中打开 Google 的登录页面；QGIS 在本机接收答复并保存 Earth Engine 凭据。</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="90" />
            <source>Cancel sign-in</source>
            <translation>取消登录</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="289" />
            <source>Waiting for Google: finish the sign-in in your browser. If no browser page opened, open this address yourself:
{url}</source>
            <translation>正在等待 Google：请在浏览器中完成登录。如果没有打开浏览器页面，请自行打开此地址：
{url}</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="307" />
            <source>Signed in to Earth Engine; credentials saved in {path} for QGIS and qgis_process. Click 'Test connection' to check the project.</source>
            <translation>已登录 Earth Engine；凭据已保存到 {path}，供 QGIS 和 qgis_process 使用。请点击“测试连接”检查项目。</translation>
        </message>
        <message>
            <location filename="../ui/settings_dialog.py" line="310" />
            <source>Sign-in canceled; nothing was saved.</source>
            <translation>登录已取消；未保存任何内容。</translation>
        </message>
    </context>
    <context>
        <name>ShippedModel</name>
        <message>
            <location filename="../processing_provider/i18n.py" line="32" />
            <source>Workflows</source>
            <translation>工作流</translation>
        </message>
        <message>
            <location filename="../processing_provider/i18n.py" line="32" />
            <source>Workflow: local files to validated 1 km soil moisture</source>
            <translation>工作流：从本地文件到经过验证的 1 km 土壤水分</translation>
        </message>
    </context>
    <context>
        <name>SmDownscalePlugin</name>
        <message>
            <location filename="../plugin.py" line="37" />
            <source>Soil moisture downscaling toolbox</source>
            <translation>土壤水分降尺度工具箱</translation>
        </message>
        <message>
            <location filename="../plugin.py" line="38" />
            <source>Settings…</source>
            <translation>设置…</translation>
        </message>
        <message>
            <location filename="../plugin.py" line="39" />
            <source>Check dependencies…</source>
            <translation>检查依赖项…</translation>
        </message>
        <message>
            <location filename="../plugin.py" line="40" />
            <source>Help</source>
            <translation>帮助</translation>
        </message>
        <message>
            <location filename="../plugin.py" line="56" />
            <source>&amp;Soil moisture downscaling</source>
            <translation>土壤水分降尺度(&amp;S)</translation>
        </message>
        <message>
            <location filename="../plugin.py" line="72" />
            <source>Soil moisture downscaling</source>
            <translation>土壤水分降尺度</translation>
        </message>
        <message>
            <location filename="../plugin.py" line="72" />
            <source>The Processing toolbox is not available: enable the Processing plugin in Plugins &gt; Manage and Install Plugins.</source>
            <translation>处理工具箱不可用：请在“插件 &gt; 管理并安装插件”中启用 Processing 插件。</translation>
        </message>
    </context>
    <context>
        <name>SmDownscaleProvider</name>
        <message>
            <location filename="../processing_provider/provider.py" line="32" />
            <source>Soil moisture downscaling</source>
            <translation>土壤水分降尺度</translation>
        </message>
    </context>
    <context>
        <name>SmdAlgorithm</name>
        <message>
            <location filename="../processing_provider/i18n.py" line="32" />
            <source>Data preparation</source>
            <translation>数据准备</translation>
        </message>
        <message>
            <location filename="../processing_provider/i18n.py" line="32" />
            <source>Factors and models</source>
            <translation>因子与模型</translation>
        </message>
        <message>
            <location filename="../processing_provider/i18n.py" line="32" />
            <source>Validation</source>
            <translation>验证</translation>
        </message>
        <message>
            <location filename="../processing_provider/base.py" line="554" />
            <source>Canceled: no output was written.</source>
            <translation>已取消：未写出任何输出。</translation>
        </message>
        <message>
            <location filename="../processing_provider/base.py" line="558" />
            <source>Out of memory; process a smaller extent or close other programs.</source>
            <translation>内存不足；请处理更小的范围或关闭其他程序。</translation>
        </message>
        <message>
            <location filename="../processing_provider/base.py" line="485" />
            <source>No value for '{}' ({}); give one.</source>
            <translation>“{}”（{}）没有值；请给定一个值。</translation>
        </message>
        <message>
            <location filename="../processing_provider/base.py" line="470" />
            <source>'{}' ({}) is not a number (nan); give a finite value.</source>
            <translation>“{}”（{}）不是数值（nan）；请给定一个有限值。</translation>
        </message>
        <message>
            <location filename="../processing_provider/base.py" line="472" />
            <source>'{}' ({}) is infinite ({}); give a finite value.</source>
            <translation>“{}”（{}）为无穷大（{}）；请给定一个有限值。</translation>
        </message>
        <message>
            <location filename="../processing_provider/base.py" line="244" />
            <source>{} is {}, not a {} file; give a {} file.</source>
            <translation>{} 为 {}，不是 {} 文件；请给定 {} 文件。</translation>
        </message>
        <message>
            <location filename="../processing_provider/base.py" line="274" />
            <source>{} must be a number; got '{}'.</source>
            <translation>{} 必须是数值；收到的是“{}”。</translation>
        </message>
        <message>
            <location filename="../processing_provider/base.py" line="279" />
            <source>{} is {}; give a value from {} to {}.</source>
            <translation>{} 为 {}；请给定 {} 到 {} 之间的值。</translation>
        </message>
        <message>
            <location filename="../processing_provider/base.py" line="281" />
            <source>{} is {}; give a value of at least {}.</source>
            <translation>{} 为 {}；请给定不小于 {} 的值。</translation>
        </message>
        <message>
            <location filename="../processing_provider/base.py" line="283" />
            <source>{} is {}; give a value of at most {}.</source>
            <translation>{} 为 {}；请给定不大于 {} 的值。</translation>
        </message>
        <message>
            <location filename="../processing_provider/base.py" line="285" />
            <source>{} is {}; give a whole number.</source>
            <translation>{} 为 {}；请给定整数。</translation>
        </message>
        <message>
            <location filename="../processing_provider/base.py" line="291" />
            <source>{} is {}, which is not one of its choices; give one of: {}.</source>
            <translation>{} 为 {}，不是可选项之一；请给定以下之一：{}。</translation>
        </message>
        <message>
            <location filename="../processing_provider/base.py" line="302" />
            <source>{}: QGIS cannot load {} given as text (a file inside an archive, or a GDAL driver prefix); extract the raster to a GeoTIFF file (e.g. unzip it, or Export &gt; Save As in QGIS) and give that file.</source>
            <translation>{}：QGIS 无法加载以文本形式给出的 {}（压缩包内的文件，或带 GDAL 驱动前缀）；请将栅格提取为 GeoTIFF 文件（例如解压，或在 QGIS 中使用 导出 &gt; 另存为），然后给定该文件。</translation>
        </message>
        <message>
            <location filename="../processing_provider/base.py" line="305" />
            <source>{}: QGIS cannot load {} as a layer; give the path of a raster file (e.g. a GeoTIFF).</source>
            <translation>{}：QGIS 无法将 {} 加载为图层；请给定栅格文件（例如 GeoTIFF）的路径。</translation>
        </message>
        <message>
            <location filename="../processing_provider/base.py" line="190" />
            <source>The output folder {} ({}) is a file; choose a folder (a new name creates it); nothing was written.</source>
            <translation>输出文件夹 {}（{}）是一个文件；请选择文件夹（给定新名称即可创建）；未写入任何内容。</translation>
        </message>
        <message>
            <location filename="../processing_provider/base.py" line="228" />
            <source>No value for {}; give a file or folder name.</source>
            <translation>{} 没有值；请给定文件或文件夹名称。</translation>
        </message>
        <message>
            <location filename="../processing_provider/base.py" line="519" />
            <source>'{}' ({}) holds {} file paths joined by '{}' in one value; give each file as its own value: in qgis_process repeat --{}=&lt;file&gt; once per file, in Python pass a list.</source>
            <translation>“{}”（{}）在一个值中包含 {} 个以“{}”连接的文件路径；请把每个文件作为单独的值给出：在 qgis_process 中每个文件重复一次 --{}=&lt;文件&gt;，在 Python 中传入列表。</translation>
        </message>
        <message>
            <location filename="../processing_provider/base.py" line="448" />
            <source>Unknown parameter {} (did you mean {}?) for smdownscale:{}; its parameters are {}. An unknown name would be ignored and the default used instead: correct its spelling.</source>
            <translation>未知参数 {}（是否想用 {}？），算法 smdownscale:{} 的参数为 {}。未知的名称会被忽略并改用默认值：请更正其拼写。</translation>
        </message>
        <message>
            <location filename="../processing_provider/base.py" line="451" />
            <source>Unknown parameter {} for smdownscale:{}; its parameters are {}. An unknown name would be ignored and the default used instead: correct its spelling.</source>
            <translation>未知参数 {}，算法 smdownscale:{} 的参数为 {}。未知的名称会被忽略并改用默认值：请更正其拼写。</translation>
        </message>
        <message>
            <location filename="../processing_provider/base.py" line="331" />
            <source>{}: {} is a file inside an archive or a GDAL virtual path; smdownscale reads rasters from files on disk only (reading through an archive can write into it). Extract the raster to a GeoTIFF file (e.g. unzip it, or Export &gt; Save As in QGIS) and give that file.</source>
            <translation>{}：{} 是压缩包内的文件或 GDAL 虚拟路径；smdownscale 只读取磁盘上的栅格文件（通过压缩包读取可能会写入压缩包）。请将栅格提取为 GeoTIFF 文件（例如解压，或在 QGIS 中使用 导出 &gt; 另存为）并给出该文件。</translation>
        </message>
        <message>
            <location filename="../processing_provider/base.py" line="551" />
            <source>Stopped by {}: the run was canceled and no output was written; files already at the output paths are unchanged.</source>
            <translation>已被 {} 停止：运行已取消，未写出任何输出；输出路径上已有的文件保持不变。</translation>
        </message>
        <message>
            <location filename="../processing_provider/base.py" line="324" />
            <source>{}: {} is a file inside an archive or a GDAL virtual path; smdownscale reads files on disk only. Extract it (e.g. unzip the archive) and give the extracted file or folder.</source>
            <translation>{}：{} 是压缩包内的文件或 GDAL 虚拟路径；smdownscale 只读取磁盘上的文件。请先解压（例如解压该压缩包），再给出解压后的文件或文件夹。</translation>
        </message>
    </context>
    <context>
        <name>SmdConnection</name>
        <message>
            <location filename="../ui/connection.py" line="40" />
            <source>Connected to Earth Engine with project '{project}' at {url}: the test computation answered {answer} in {seconds:.1f} s.</source>
            <translation>已使用项目“{project}”连接到 Earth Engine（{url}）：测试计算在 {seconds:.1f} 秒内返回 {answer}。</translation>
        </message>
    </context>
    <context>
        <name>SmdDependencies</name>
        <message>
            <location filename="../processing_provider/dependencies.py" line="162" />
            <source>This algorithm needs {names}, which QGIS's Python cannot import. Install it once from the menu Raster &gt; Soil moisture downscaling &gt; Check dependencies…, or run this command and restart QGIS:
{command}</source>
            <translation>此算法需要 {names}，但 QGIS 的 Python 无法导入。请通过菜单“栅格 &gt; 土壤水分降尺度 &gt; 检查依赖项…”安装一次，或运行以下命令后重启 QGIS：
{command}</translation>
        </message>
        <message>
            <location filename="../processing_provider/dependencies.py" line="201" />
            <source>Could not run {python}: {error}</source>
            <translation>无法运行 {python}：{error}</translation>
        </message>
        <message>
            <location filename="../processing_provider/dependencies.py" line="206" />
            <source>pip is not available for QGIS's Python ({python}); install pip first (Debian/Ubuntu: sudo apt install python3-pip), then try again.</source>
            <translation>QGIS 的 Python（{python}）没有可用的 pip；请先安装 pip（Debian/Ubuntu：sudo apt install python3-pip），然后重试。</translation>
        </message>
    </context>
    <context>
        <name>SmdSettings</name>
        <message>
            <location filename="../processing_provider/settings.py" line="149" />
            <source>The service-account key is not valid JSON; download the key again from the Google Cloud console (IAM &gt; Service accounts &gt; Keys &gt; Add key &gt; JSON).</source>
            <translation>服务账号密钥不是有效的 JSON；请从 Google Cloud 控制台重新下载密钥（IAM &gt; 服务账号 &gt; 密钥 &gt; 添加密钥 &gt; JSON）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/settings.py" line="153" />
            <source>The JSON file is not a service-account key (its "type" is not "service_account"); create a JSON key for the service account in the Google Cloud console.</source>
            <translation>该 JSON 文件不是服务账号密钥（其 "type" 不是 "service_account"）；请在 Google Cloud 控制台中为该服务账号创建 JSON 密钥。</translation>
        </message>
        <message>
            <location filename="../processing_provider/settings.py" line="158" />
            <source>The service-account key lacks {fields}; download a complete JSON key from the Google Cloud console.</source>
            <translation>服务账号密钥缺少 {fields}；请从 Google Cloud 控制台下载完整的 JSON 密钥。</translation>
        </message>
        <message>
            <location filename="../processing_provider/settings.py" line="178" />
            <source>The QGIS authentication database is locked, so the Earth Engine service-account key cannot be read. In QGIS, open Soil moisture downscaling &gt; Settings… and press Test connection to unlock it; for qgis_process set QGIS_AUTH_PASSWORD_FILE to a file holding the master password.</source>
            <translation>QGIS 认证数据库已锁定，因此无法读取 Earth Engine 服务账号密钥。在 QGIS 中，打开“土壤水分降尺度 &gt; 设置…”并点击“测试连接”以解锁；对于 qgis_process，请将 QGIS_AUTH_PASSWORD_FILE 设置为保存主密码的文件。</translation>
        </message>
        <message>
            <location filename="../processing_provider/settings.py" line="208" />
            <source>The authentication configuration '{id}' chosen for Earth Engine does not exist; import the service-account key again in Soil moisture downscaling &gt; Settings….</source>
            <translation>为 Earth Engine 选择的认证配置“{id}”不存在；请在“土壤水分降尺度 &gt; 设置…”中重新导入服务账号密钥。</translation>
        </message>
        <message>
            <location filename="../processing_provider/settings.py" line="215" />
            <source>The authentication configuration '{id}' could not be decrypted; check the QGIS master password, or import the service-account key again.</source>
            <translation>无法解密认证配置“{id}”；请检查 QGIS 主密码，或重新导入服务账号密钥。</translation>
        </message>
        <message>
            <location filename="../processing_provider/settings.py" line="232" />
            <source>Earth Engine service account ({email})</source>
            <translation>Earth Engine 服务账号（{email}）</translation>
        </message>
        <message>
            <location filename="../processing_provider/settings.py" line="248" />
            <source>The key could not be saved in the QGIS authentication database; check it under Settings &gt; Options &gt; Authentication.</source>
            <translation>无法将密钥保存到 QGIS 认证数据库；请在“设置 &gt; 选项 &gt; 认证”中检查。</translation>
        </message>
    </context>
    <context>
        <name>TrainAlgorithm</name>
        <message>
            <location filename="../processing_provider/algs/train.py" line="74" />
            <source>Train downscaling model</source>
            <translation>训练降尺度模型</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="128" />
            <source>Band names of the factor stacks to train on, e.g. 'ndvi,lst_day,landcover' (the 'Selected factors' output of smdownscale:screen). Empty: all bands.</source>
            <translation>用于训练的因子堆栈波段名称，例如“ndvi,lst_day,landcover”（smdownscale:screen 的“已选因子”输出）。留空：使用所有波段。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="132" />
            <source>Model</source>
            <translation>模型</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="120" />
            <source>Random forest (RF)</source>
            <translation>随机森林（RF）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="120" />
            <source>Support vector regression (SVR)</source>
            <translation>支持向量回归（SVR）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="121" />
            <source>Regression tree (CART)</source>
            <translation>分类回归树（CART）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="121" />
            <source>Gradient boosting (histogram-based)</source>
            <translation>梯度提升（基于直方图）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="122" />
            <source>Extra trees</source>
            <translation>极端随机树</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="122" />
            <source>Linear trend + gradient boosting</source>
            <translation>线性趋势 + 梯度提升</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="139" />
            <source>Training mode</source>
            <translation>训练模式</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="139" />
            <source>Scale-aware training learns the relation at the scale SMAP measures; the study's mode reproduces the published setup (trained on bilinearly resampled SMAP).</source>
            <translation>尺度感知训练在 SMAP 的观测尺度上学习关系；文献模式复现已发表的方案（在双线性重采样后的 SMAP 上训练）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="144" />
            <source>Cross-validation</source>
            <translation>交叉验证</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="125" />
            <source>Spatial blocks</source>
            <translation>空间分块</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="125" />
            <source>Dates held out</source>
            <translation>留出日期</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="126" />
            <source>Random K-fold (optimistic)</source>
            <translation>随机 K 折（偏乐观）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="144" />
            <source>How the reported skill is estimated. Random K-fold mixes neighbouring cells between training and testing and overstates skill.</source>
            <translation>所报告精度的估计方式。随机 K 折会把相邻像元同时分到训练集和测试集中，从而高估精度。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="148" />
            <source>Hyperparameter search budget (s, 0 = off)</source>
            <translation>超参数搜索时间预算（秒，0 = 关闭）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="148" />
            <source>Seconds to spend trying settings of the model (of each model with Auto), scored by spatial cross-validation. 0 uses the default settings.</source>
            <translation>尝试模型设置所用的秒数（“自动”模式下为每个模型），以空间交叉验证打分。0 表示使用默认设置。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="152" />
            <source>Computed from the stack bands (lst_day and lst_night; ndvi and lst_day; daily precipitation_lag&lt;d&gt; bands) when present, and added to the factors; skipped with a note when their inputs are missing.</source>
            <translation>在所需波段存在时由堆栈波段计算（lst_day 和 lst_night；ndvi 和 lst_day；逐日的 precipitation_lag&lt;d&gt; 波段），并加入因子；若缺少所需输入，则跳过并给出提示。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="155" />
            <source>Number of trees (random forest)</source>
            <translation>树的数量（随机森林）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="160" />
            <source>Cross-validation folds (0 = none)</source>
            <translation>交叉验证折数（0 = 不进行）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="160" />
            <source>Number of folds for both spatial and random cross-validation; 0 skips cross-validation, otherwise at least 2.</source>
            <translation>空间交叉验证和随机交叉验证的折数；0 表示跳过交叉验证，否则至少为 2。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="165" />
            <source>Spatial CV block size (coarse cells)</source>
            <translation>空间交叉验证的分块大小（粗像元数）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="165" />
            <source>Spatial folds hold out square blocks of this many SMAP cells per side (4 cells of 9 km = 36 km); use at least the range of spatial autocorrelation.</source>
            <translation>空间分折每次留出边长为这么多个 SMAP 像元的正方形分块（4 个 9 km 像元 = 36 km）；应至少取空间自相关的变程。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="169" />
            <source>Random seed</source>
            <translation>随机种子</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="169" />
            <source>Seed for the model and the random folds; the same seed gives the same model.</source>
            <translation>模型和随机分折的种子；相同的种子得到相同的模型。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="181" />
            <source>Model file</source>
            <translation>模型文件</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="181" />
            <source>smdownscale model (*.smdmodel)</source>
            <translation>smdownscale 模型 (*.smdmodel)</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="181" />
            <source>Where to save the trained model (.smdmodel).</source>
            <translation>训练好的模型的保存位置（.smdmodel）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="184" />
            <source>Training report</source>
            <translation>训练报告</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="184" />
            <source>HTML files (*.html)</source>
            <translation>HTML 文件 (*.html)</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="184" />
            <source>HTML report: cross-validation metrics (spatial and random folds, pooled and per fold) and feature importance; shown in the Processing results viewer.</source>
            <translation>HTML 报告：交叉验证指标（空间分折和随机分折，合并及逐折）和特征重要性；显示在处理结果查看器中。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="189" />
            <source>CV R (chosen scheme)</source>
            <translation>交叉验证 R（所选方案）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="190" />
            <source>CV MAE (m3/m3)</source>
            <translation>交叉验证 MAE（m3/m3）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="191" />
            <source>CV RMSE (m3/m3)</source>
            <translation>交叉验证 RMSE（m3/m3）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="192" />
            <source>CV ubRMSD (m3/m3)</source>
            <translation>交叉验证 ubRMSD（m3/m3）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="195" />
            <source>Training samples</source>
            <translation>训练样本数</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="196" />
            <source>Model type trained (the winner with Auto)</source>
            <translation>训练的模型类型（自动模式下为胜出者）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="236" />
            <source>1 km pixels</source>
            <translation>1 km 像元</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="236" />
            <source>coarse samples</source>
            <translation>粗分辨率样本</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="237" />
            <source>{} model trained on {} {} over {} date(s); features: {}</source>
            <translation>{} 模型已基于 {} 个{}训练完成，共 {} 个日期；特征：{}</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="240" />
            <source>Training mode: {}</source>
            <translation>训练模式：{}</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="249" />
            <source>Derived factor {} was not computed: it {}.</source>
            <translation>派生因子 {} 未计算：{}。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="251" />
            <source>Factor {} was left out of the model: {}.</source>
            <translation>因子 {} 未纳入模型：{}。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="264" />
            <source>Cross-validation (soil moisture in m3/m3):</source>
            <translation>交叉验证（土壤水分单位 m3/m3）：</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="269" />
            <source>Feature importances: {}</source>
            <translation>特征重要性：{}</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="155" />
            <source>Trees in the random forest; more trees are steadier but slower. Used by the random forest only (the other models keep their defaults).</source>
            <translation>随机森林中树的数量；树越多结果越稳定，但速度越慢。仅用于随机森林（其他模型保持其默认值）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="220" />
            <source>SMAP values read with {}; the model keeps this for downscaling.</source>
            <translation>SMAP 值按 {} 读取；模型会保存此设置用于降尺度。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="132" />
            <source>The regression algorithm. Auto compares RF, extra trees, both boosting models and SVR by spatial cross-validation and by the scale-transfer check (trained on grids 2x and 3x coarser than SMAP, scored on SMAP cells of held-out blocks), and keeps RF unless another model is better in both, on every fold.</source>
            <translation>回归算法。“自动”通过空间交叉验证和尺度迁移检验（在比 SMAP 粗 2 倍和 3 倍的格网上训练，在留出空间块的 SMAP 像元上评分）比较 RF、极端随机树、两种提升模型和 SVR；除非其他模型在两项检验的每一折上都更优，否则保留 RF。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="128" />
            <source>Factors to use (default: all)</source>
            <translation>使用的因子（默认：全部）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="124" />
            <source>Scale-aware: train on SMAP cells</source>
            <translation>尺度感知：在 SMAP 像元上训练</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="124" />
            <source>Study's mode: SMAP at 1 km</source>
            <translation>文献模式：SMAP 重采样到 1 km</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="123" />
            <source>Auto (RF unless clearly beaten)</source>
            <translation>自动（除非明显更优，否则用 RF）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="243" />
            <source>The SVR has {} support vectors: downscaling a province-day (4 million 1 km pixels) takes about {} s on this computer ({}).</source>
            <translation>该 SVR 有 {} 个支持向量：在本机上降尺度一个省级日（400 万个 1 km 像元）约需 {} 秒（{}）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="172" />
            <source>Factor noise augmentation (0 = off)</source>
            <translation>因子噪声增强（0 = 关闭）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="172" />
            <source>Scale-aware mode: the model is fitted on noisy copies of the SMAP-cell samples, with this multiple of each factor's noise measured at 1 km (speckle, retrieval noise), so it does not follow that noise when applied to 1 km pixels. 0 fits the plain samples, as the study does.</source>
            <translation>尺度感知模式：模型在 SMAP 像元样本的加噪副本上拟合，所加噪声为每个因子在 1 km 上测得的噪声（斑点噪声、反演噪声）乘以此倍数，因此应用到 1 km 像元时不会跟随这些噪声。0 表示直接用原始样本拟合，与原研究相同。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="193" />
            <source>Scale transfer R</source>
            <translation>尺度迁移检验 R</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="194" />
            <source>Scale transfer RMSE (m3/m3)</source>
            <translation>尺度迁移检验 RMSE（m3/m3）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="257" />
            <source>Factor noise augmentation: {} noisy copies, {:g} x the 1 km noise of each factor ({})</source>
            <translation>因子噪声增强：{} 个加噪副本，噪声为每个因子 1 km 噪声的 {:g} 倍（{}）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="77" />
            <source>Required: both lists (SMAP rasters and factor stacks, one per date), or a fetch manifest instead of both. For QGIS (qgis_process, models) all three are optional parameters because either way is complete; the dialog labels them with the alternative, and the algorithm names what is missing before anything runs.

Trains a machine-learning model that predicts soil moisture from the factors, and saves it as a .smdmodel file for smdownscale:downscale.

Training modes. Scale-aware (default): for every date the 1 km factor stack is averaged onto the SMAP grid (land cover becomes class fractions) and the model learns SMAP soil moisture from these coarse factors, pooled over all dates; the same model is then applied to the 1 km factors. Study's mode (as in Bian et al. 2025): SMAP is resampled bilinearly to the 1 km grid and the model is trained on a random sample of 1 km pixels; it mostly learns to reproduce the interpolation, and is offered so the published setup can be reproduced and compared.

Models: random forest (RF, default), support vector regression (SVR, RBF kernel on standardized factors), a regression tree (CART), gradient boosting (histogram-based), extra trees, and a linear trend + gradient boosting hybrid (ridge regression, then boosted trees on its residuals), which extrapolates beyond the range of the 9 km factor means that 1 km pixels reach. 'Auto' trains RF, extra trees, both boosting models and SVR and keeps the one with the lowest spatial cross-validation RMSE.

Hyperparameter search (time budget in seconds, 0 = off): the default settings and then random settings from a grid per model are scored by spatial cross-validation until the budget is spent; the settings tried and the winner are logged and stored in the model file.

Cross-validation: spatial blocks (default) hold out whole blocks of SMAP cells (block size in cells), so a block is never used for training and testing at once; 'dates held out' holds out whole dates; random K-fold is always reported too and labelled optimistic, because neighbouring cells resemble each other. The log shows R, MAE, RMSE, bias and ubRMSD (m3/m3) pooled and per fold; the pooled values of the chosen scheme are also outputs for the modeler.

Derived factors (optional) are computed from the stack bands when their inputs are present: the LST day-night difference (lst_day - lst_night), TVDI from the NDVI-LST space with a dry edge fitted per date, and an antecedent precipitation index from daily bands precipitation_lag&lt;d&gt;. The model records them and smdownscale:downscale recomputes them from its stack.

'Factors to use' takes comma-separated band names (e.g. the output of smdownscale:screen); empty uses every band of the stacks.

Units: SMAP soil moisture must be in m3/m3. Values that cannot be (percent, scaled integers, a fill value such as -9999 that the file does not declare as nodata) stop the run with a message naming the file and the fix. The advanced parameters SM_SCALE (factor to m3/m3, 0.01 for percent) and SM_NODATA (a fill value the file does not declare; the file is not changed) say how to read SMAP; the model keeps them, so smdownscale:downscale reads SMAP the same way. NDVI-like factors (ndvi, evi, savi, ndwi) must lie within -1 to 1 (MODIS stores them as integers x 10000: multiply by 0.0001 first).</source>
            <translation>必填：两个列表（SMAP 栅格和因子堆栈，每个日期一个），或改用一个数据获取清单代替这两个列表。对 QGIS（qgis_process、模型）而言，三者都是可选参数，因为任一种方式都是完整的；对话框在其标签中注明可替代的输入，算法在运行前会指出缺少什么。

训练一个由因子预测土壤水分的机器学习模型，并将其保存为 .smdmodel 文件，供 smdownscale:downscale 使用。

训练模式。尺度感知（默认）：对每个日期，将 1 km 因子堆栈以均值聚合到 SMAP 格网上（土地覆盖转为各类别所占比例），模型从这些粗分辨率因子学习 SMAP 土壤水分，所有日期的样本合并使用；随后将同一模型应用于 1 km 因子。文献模式（同 Bian et al. 2025）：将 SMAP 双线性重采样到 1 km 格网，在随机抽取的 1 km 像元样本上训练模型；模型主要学会的是复现插值结果，提供此模式是为了复现并比较已发表的方案。

模型：随机森林（RF，默认）、支持向量回归（SVR，在标准化因子上使用 RBF 核）、回归树（CART）、梯度提升（基于直方图）、极端随机树，以及线性趋势 + 梯度提升的混合模型（先做岭回归，再对其残差拟合提升树），后者可外推到 1 km 像元所达到的、超出 9 km 因子均值范围的取值。“自动”会训练 RF、极端随机树、两种提升模型和 SVR，并保留空间交叉验证 RMSE 最低的模型。

超参数搜索（时间预算，单位秒，0 = 关闭）：先评估默认设置，再从每个模型的参数格网中随机选取设置，用空间交叉验证打分，直到预算用完；尝试过的设置和最优设置会记录在日志中并保存到模型文件。

交叉验证：空间分块（默认）每次留出整块的 SMAP 像元（分块大小以像元数计），因此同一分块不会同时用于训练和测试；“留出日期”每次留出整个日期；随机 K 折也总会报告，并标注为偏乐观，因为相邻像元彼此相似。日志显示合并的和逐折的 R、MAE、RMSE、偏差和 ubRMSD（m3/m3）；所选方案的合并值也作为输出供图形建模器使用。

派生因子（可选）在所需输入波段存在时由堆栈波段计算：LST 昼夜温差（lst_day - lst_night）、基于 NDVI-LST 特征空间并逐日期拟合干边的 TVDI，以及由逐日波段 precipitation_lag&lt;d&gt; 计算的前期降水指数。模型会记录这些派生因子，smdownscale:downscale 会由其堆栈重新计算。

“要使用的因子”接受以逗号分隔的波段名称（例如 smdownscale:screen 的输出）；留空则使用堆栈的所有波段。

单位：SMAP 土壤水分必须为 m3/m3。不可能是 m3/m3 的值（百分比、缩放后的整数、文件未声明为无数据值的填充值如 -9999）会使运行停止，并给出指明文件和修正方法的消息。高级参数 SM_SCALE（换算为 m3/m3 的系数，百分比为 0.01）和 SM_NODATA（文件未声明的填充值；文件不会被修改）说明如何读取 SMAP；模型会保存它们，因此 smdownscale:downscale 以相同方式读取 SMAP。类 NDVI 因子（ndvi、evi、savi、ndwi）必须位于 -1 到 1 之间（MODIS 以整数 x 10000 存储：请先乘以 0.0001）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="262" />
            <source>Contrast detail (downscale's detail 'contrast'): {}</source>
            <translation>对比细节（降尺度的细节选项“contrast”）：{}</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/train.py" line="253" />
            <source>Date {} was left out: {} missing at every pixel of its factor stack (all under cloud, or without a radar overpass).</source>
            <translation>日期 {} 已略去：其因子堆栈的所有像元上都缺少 {}（整天有云，或没有雷达过境）。</translation>
        </message>
    </context>
    <context>
        <name>ValidateAlgorithm</name>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="79" />
            <source>Validate soil moisture</source>
            <translation>验证土壤水分</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="118" />
            <source>Soil moisture estimate</source>
            <translation>土壤水分估算结果</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="118" />
            <source>The raster to validate (band 1, m3/m3); leave empty for a time series.</source>
            <translation>待验证的栅格（波段 1，m3/m3）；时间序列请留空。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="121" />
            <source>Reference raster</source>
            <translation>参考栅格</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="121" />
            <source>A soil moisture raster of the same date, e.g. SMAP.</source>
            <translation>同一日期的土壤水分栅格，例如 SMAP。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="132" />
            <source>Reference resampling</source>
            <translation>参考数据重采样</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="132" />
            <source>Automatic (average if finer, bilinear if coarser)</source>
            <translation>自动（更精细时取均值，更粗时双线性插值）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="132" />
            <source>Bilinear</source>
            <translation>双线性插值</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="132" />
            <source>Average</source>
            <translation>均值</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="132" />
            <source>Nearest</source>
            <translation>最邻近</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="132" />
            <source>How the reference is brought onto the estimate's grid.</source>
            <translation>如何将参考数据转换到估算结果的格网上。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="138" />
            <source>Station points</source>
            <translation>站点（点图层）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="138" />
            <source>Point layer of in-situ observations, one feature per station and time.</source>
            <translation>地面实测观测的点图层，每个站点每个时间一个要素。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="141" />
            <source>Station id field</source>
            <translation>站点 ID 字段</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="141" />
            <source>Field identifying the station; empty: found by name (station, id, name), else stations are told apart by their coordinates.</source>
            <translation>标识站点的字段；留空：按名称查找（station、id、name），否则按坐标区分站点。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="145" />
            <source>Date field</source>
            <translation>日期字段</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="145" />
            <source>Date or date-time field (or text YYYY-MM-DD); empty: found by name.</source>
            <translation>日期或日期时间字段（或 YYYY-MM-DD 格式的文本）；留空：按名称查找。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="148" />
            <source>Soil moisture field (m3/m3)</source>
            <translation>土壤水分字段（m3/m3）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="148" />
            <source>Observed volumetric soil moisture in m3/m3; empty: found by name (value, sm, soil_moisture).</source>
            <translation>观测的体积土壤水分，单位 m3/m3；留空：按名称查找（value、sm、soil_moisture）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="152" />
            <source>Station observations (*.csv *.txt *.stm)</source>
            <translation>站点观测 (*.csv *.txt *.stm)</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="158" />
            <source>Folder of ISMN .stm files</source>
            <translation>ISMN .stm 文件所在文件夹</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="162" />
            <source>Maximum sensor depth for ISMN files (m)</source>
            <translation>ISMN 文件的最大传感器深度（m）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="162" />
            <source>ISMN sensors whose top is deeper are ignored (SMAP surface soil moisture is 0-5 cm).</source>
            <translation>顶部深于此值的 ISMN 传感器将被忽略（SMAP 表层土壤水分为 0-5 cm）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="167" />
            <source>Day compared with the stations; empty: the date in the estimate's file name.</source>
            <translation>与站点比较的日期；留空：使用估算结果文件名中的日期。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="169" />
            <source>Metrics</source>
            <translation>精度指标</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="171" />
            <source>CSV files (*.csv)</source>
            <translation>CSV 文件 (*.csv)</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="169" />
            <source>CSV with one row per source and the metrics n, r, mae, rmse, bias, ubrmsd.</source>
            <translation>CSV，每个数据源一行，包含指标 n、r、mae、rmse、bias、ubrmsd。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="171" />
            <source>Station pairs</source>
            <translation>站点配对</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="171" />
            <source>CSV with each station's observed daily mean and the estimate at its pixel.</source>
            <translation>CSV，包含每个站点观测的日均值及其所在像元的估算值。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="175" />
            <source>Estimates of several dates, each with its date in the file name (YYYYMMDD or YYYY-MM-DD), instead of one estimate.</source>
            <translation>多个日期的估算结果，文件名中带有各自的日期（YYYYMMDD 或 YYYY-MM-DD），用于代替单个估算结果。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="179" />
            <source>Time series: reference rasters</source>
            <translation>时间序列：参考栅格</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="179" />
            <source>Reference rasters of the same dates, paired with the estimates by the date in the file names.</source>
            <translation>相同日期的参考栅格，按文件名中的日期与估算结果配对。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="183" />
            <source>Report</source>
            <translation>报告</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="183" />
            <source>HTML files (*.html)</source>
            <translation>HTML 文件 (*.html)</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="183" />
            <source>HTML report with the metrics and plots (estimate against reference with the 1:1 line, stations over time); shown in the Processing results viewer.</source>
            <translation>包含精度指标和图表（带 1:1 线的估算值对参考值图、站点随时间变化图）的 HTML 报告；显示在处理结果查看器中。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="187" />
            <source>Number of pairs</source>
            <translation>配对数</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="187" />
            <source>Correlation R</source>
            <translation>相关系数 R</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="187" />
            <source>MAE (m3/m3)</source>
            <translation>MAE（m3/m3）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="188" />
            <source>RMSE (m3/m3)</source>
            <translation>RMSE（m3/m3）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="188" />
            <source>Bias (m3/m3)</source>
            <translation>偏差（m3/m3）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="189" />
            <source>ubRMSD (m3/m3)</source>
            <translation>ubRMSD（m3/m3）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="199" />
            <source>{} is not a raster file (provider '{}'); save it as a GeoTIFF (Export &gt; Save As...) and use that file.</source>
            <translation>{} 不是栅格文件（数据提供程序为“{}”）；请将其另存为 GeoTIFF（导出 &gt; 另存为...）后使用该文件。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="216" />
            <source>Give either one soil moisture estimate or a time series of estimates (not both).</source>
            <translation>请给定一个土壤水分估算结果或一个估算结果时间序列（不能同时给定两者）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="222" />
            <source>A time series of estimates is compared with a time series of reference rasters: give them under 'Time series: reference rasters'.</source>
            <translation>估算结果时间序列需要与参考栅格时间序列比较：请在“时间序列：参考栅格”中给定参考栅格。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="230" />
            <source>Nothing to validate against: give a reference raster, station points, a station file or a folder of ISMN files.</source>
            <translation>没有可用于验证的参照：请给定参考栅格、站点点图层、站点文件或 ISMN 文件所在文件夹。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="327" />
            <source>The date '{}' is not a date; write it as YYYY-MM-DD.</source>
            <translation>日期“{}”不是日期；请写成 YYYY-MM-DD。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="249" />
            <source>The station layer</source>
            <translation>站点图层</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="255" />
            <source>date</source>
            <translation>日期</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="255" />
            <source>soil moisture</source>
            <translation>土壤水分</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="256" />
            <source>The station layer {} has no {} field that could be recognised; its fields are: {}. Choose the field in the algorithm's parameters.</source>
            <translation>站点图层 {} 中没有可识别的{}字段；其字段为：{}。请在算法参数中选择该字段。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="264" />
            <source>Station fields: id {}, date {}, soil moisture {}</source>
            <translation>站点字段：ID {}，日期 {}，土壤水分 {}</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="264" />
            <source>(coordinates)</source>
            <translation>（坐标）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="268" />
            <source>The station layer {} has no coordinate reference system; set one (Layer Properties &gt; Source) and run again.</source>
            <translation>站点图层 {} 没有坐标参考系；请设置一个（图层属性 &gt; 源）后重新运行。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="302" />
            <source>{} station observations from {} stations</source>
            <translation>{} 条站点观测，来自 {} 个站点</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="347" />
            <source>Reference resampled onto the estimate's grid with '{}'.</source>
            <translation>已使用“{}”将参考数据重采样到估算结果的格网上。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="363" />
            <source>Estimate</source>
            <translation>估算结果</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="365" />
            <source>Reference</source>
            <translation>参考数据</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="405" />
            <source>The date parameter is ignored for a time series: each estimate's date comes from its file name.</source>
            <translation>时间序列忽略日期参数：每个估算结果的日期取自其文件名。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="416" />
            <source>Stations skipped on {}</source>
            <translation>以下日期的站点被跳过：{}</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="417" />
            <source>Per date:</source>
            <translation>逐日期：</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="420" />
            <source>All dates pooled:</source>
            <translation>所有日期合并：</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="429" />
            <source>Estimates</source>
            <translation>估算结果</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="431" />
            <source>References</source>
            <translation>参考数据</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="158" />
            <source>An unzipped ISMN download ('Header+values' or 'CEOP formatted'); its soil moisture files are read, other files are listed in the log.</source>
            <translation>解压后的 ISMN 下载数据（“Header+values”或“CEOP formatted”格式）；读取其中的土壤水分文件，其他文件在日志中列出。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="378" />
            <source>Reference values read with {}.</source>
            <translation>参考值按 {} 读取。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="152" />
            <source>Station file (CSV, ISMN .stm)</source>
            <translation>站点文件（CSV、ISMN .stm）</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="167" />
            <source>Date of the estimate</source>
            <translation>估算结果的日期</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="175" />
            <source>Time series: estimates</source>
            <translation>时间序列：估算结果</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="225" />
            <source>Reference rasters of a time series need a time series of estimates: give the estimates under 'Time series: estimates'.</source>
            <translation>时间序列的参考栅格需要估算结果时间序列：请在“时间序列：估算结果”中给定估算结果。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="123" />
            <source>Baseline: coarse SMAP</source>
            <translation>基线：粗分辨率 SMAP</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="219" />
            <source>A baseline is compared with the reference raster of one estimate: give a reference raster too, or leave the baseline empty.</source>
            <translation>基线要与单个估算结果的参考栅格比较：请同时给出参考栅格，或将基线留空。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="367" />
            <source>Baseline</source>
            <translation>基线</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="127" />
            <source>Quality raster of the estimate</source>
            <translation>估算结果的质量栅格</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="127" />
            <source>The quality raster 'Downscale soil moisture' wrote with the estimate: the reference comparison is also reported for fully observed, filled and coarse-only pixels (one date).</source>
            <translation>“降尺度土壤水分”随估算结果写出的质量栅格：与参考栅格的比较还会分别报告所有因子均有观测、已填补和仅粗分辨率场的像元（单一日期）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="118" />
            <source>or a time series</source>
            <translation>或时间序列</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="179" />
            <source>or stations</source>
            <translation>或站点</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="175" />
            <source>or one estimate</source>
            <translation>或单个估算结果</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="152" />
            <source>A CSV table with columns station, lon, lat, date, value (EPSG:4326, or a crs column; Chinese headers such as 区站号, 经度, 纬度, 日期, 土壤水分 too, in UTF-8 or GBK), or one ISMN .stm file ('Header+values' or 'CEOP formatted').</source>
            <translation>包含 station、lon、lat、date、value 列的 CSV 表（EPSG:4326，或带 crs 列；也可用中文表头，如 区站号、经度、纬度、日期、土壤水分，UTF-8 或 GBK 编码），或一个 ISMN .stm 文件（“Header+values”或“CEOP formatted”格式）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="82" />
            <source>Compares a soil moisture raster (e.g. the 1 km result of 'Downscale soil moisture') with a reference raster and/or in-situ stations and reports n, R, MAE, RMSE, bias (estimate minus reference) and ubRMSD (unbiased RMSD, sqrt(RMSE^2 - bias^2)), all in m3/m3.

Reference raster (e.g. SMAP of the same date): it is resampled onto the estimate's grid, averaged when it is finer and bilinearly interpolated when it is coarser (advanced: choose the method), and compared pixel by pixel where both are valid.

Stations: a point layer (fields for station id, date and soil moisture are found by name when not chosen: station/id/name, date/time, value/sm/soil_moisture), a CSV table (columns station, lon, lat, date, value in EPSG:4326), an ISMN .stm file ('Header+values' or 'CEOP formatted'), or a folder of them (only 'G' flagged values of sensors within the maximum depth are used). Each station's daily mean on the estimate's date is compared with the estimate pixel containing the station. The date comes from the estimate's file name (YYYYMMDD or YYYY-MM-DD) unless given.

The CSV output has one row per source: 'reference', 'stations' (pooled) and 'station:&lt;id&gt;'; the numeric outputs are those of the reference comparison when a reference is given, else of the stations. With the quality raster 'Downscale soil moisture' wrote for the estimate, the reference comparison is also split by the path of each pixel: 'reference:all factors observed', 'reference:filled', 'reference:coarse only' and 'reference:from a neighbouring date'.

Time series: give several estimates (dates in the file names, e.g. the sm_1km_&lt;YYYYMMDD&gt;.tif of a downscaling series) with reference rasters of the same dates and/or stations. Each date is compared as above; the CSV has one row per date and source, then the metrics of all dates pooled (date 'all'), which are also the numeric outputs.

The HTML report holds the metrics table, a density plot of the estimate against the reference with the 1:1 line, a map of the estimate minus the reference, the station comparison and, when stations cover several dates, their time series.

Baseline (optional): the coarse SMAP raster the estimate was downscaled from. It is resampled bilinearly onto the estimate's grid and compared with the same reference on the same pixels; its metrics ('baseline' in the CSV) stand next to the estimate's in the report, showing what downscaling adds. It is read as downscale read it (SM_SCALE and SM_NODATA, recorded in the estimate), so SMAP in percent or with an undeclared fill value needs nothing more.

Units: the estimate and the reference must be in m3/m3; percent, scaled integers or an undeclared fill value (e.g. -9999) stop the run with the fix. The advanced parameters REF_SCALE (factor to m3/m3, 0.01 for percent) and REF_NODATA (a fill value the file does not declare) say how to read the reference. Station values must lie within 0-1 m3/m3.</source>
            <translation>将土壤水分栅格（例如“土壤水分降尺度”的 1 km 结果）与参考栅格和/或地面站点进行比较，报告 n、R、MAE、RMSE、偏差（估算值减参考值）和 ubRMSD（无偏均方根差，sqrt(RMSE^2 - bias^2)），单位均为 m3/m3。

参考栅格（例如同一日期的 SMAP）：重采样到估算结果的格网上，更精细时取均值，更粗时双线性插值（高级参数中可选择方法），并在两者均有效处逐像元比较。

站点：点图层（未指定时按名称查找站点 ID、日期和土壤水分字段：station/id/name、date/time、value/sm/soil_moisture）、CSV 表（列 station、lon、lat、date、value，坐标为 EPSG:4326）、ISMN .stm 文件（“Header+values”或“CEOP formatted”格式），或包含这些文件的文件夹（只使用最大深度以内传感器的、标记为“G”的值）。将每个站点在估算日期的日均值与站点所在的估算像元进行比较。除非另行给定，日期取自估算结果的文件名（YYYYMMDD 或 YYYY-MM-DD）。

CSV 输出每个数据源一行：“reference”、“stations”（合并）和“station:&lt;id&gt;”；给定参考栅格时，数值输出为与参考栅格比较的结果，否则为与站点比较的结果。若给定“降尺度土壤水分”为该估算写出的质量栅格，与参考栅格的比较还会按各像元的来源路径分开报告：“reference:all factors observed”、“reference:filled”、“reference:coarse only”和“reference:from a neighbouring date”。

时间序列：给定多个估算结果（文件名中带日期，例如降尺度序列的 sm_1km_&lt;YYYYMMDD&gt;.tif），以及相同日期的参考栅格和/或站点。每个日期按上述方式比较；CSV 中每个日期和数据源一行，最后是所有日期合并的指标（日期为“all”），这些也是数值输出。

HTML 报告包含精度指标表、估算值对参考值的密度散点图（带 1:1 线）、估算值减参考值的误差图、站点比较，以及站点覆盖多个日期时的时间序列图。

基线（可选）：估算结果降尺度所用的粗分辨率 SMAP 栅格。它被双线性重采样到估算结果的格网上，并在相同像元上与同一参考值比较；其指标（CSV 中的“baseline”）在报告中与估算结果的指标并列，显示降尺度带来的增益。它按降尺度时的方式读取（SM_SCALE 和 SM_NODATA，记录在估算结果中），因此百分比或带有未声明填充值的 SMAP 无需另行设置。

单位：估算结果和参考栅格必须为 m3/m3；百分比、缩放后的整数或未声明的填充值（如 -9999）会使运行停止，并给出修正方法。高级参数 REF_SCALE（换算为 m3/m3 的系数，百分比为 0.01）和 REF_NODATA（文件未声明的填充值）说明如何读取参考栅格。站点值必须位于 0-1 m3/m3 之间。</translation>
        </message>
        <message>
            <location filename="../processing_provider/algs/validate.py" line="123" />
            <source>The SMAP raster the estimate was downscaled from (read with the SM_SCALE and SM_NODATA downscale used): resampled bilinearly and compared with the same reference, so the report shows what downscaling adds.</source>
            <translation>估算结果降尺度所用的 SMAP 栅格（按降尺度时使用的 SM_SCALE 和 SM_NODATA 读取）：双线性重采样后与同一参考值比较，使报告显示降尺度带来的增益。</translation>
        </message>
    </context>
    <context>
        <name>alg</name>
        <message>
            <location filename="../processing_provider/inputs.py" line="45" />
            <source>{} is not a raster file (provider '{}'); save it as a GeoTIFF (Export &gt; Save As...) and use that file.</source>
            <translation>{} 不是栅格文件（数据提供程序为“{}”）；请将其另存为 GeoTIFF（导出 &gt; 另存为...）后使用该文件。</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="58" />
            <source>Coarse (~9 km) soil moisture rasters in m3/m3, one per date, with the date in the file name (YYYYMMDD or YYYY-MM-DD). Band 1 is used.</source>
            <translation>粗分辨率（约 9 km）土壤水分栅格，单位 m3/m3，每个日期一个，文件名中带日期（YYYYMMDD 或 YYYY-MM-DD）。使用波段 1。</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="62" />
            <source>Fine (1 km) multiband factor stacks from smdownscale:align, one per date with the same date in the file name as its soil moisture raster. Bands are identified by their names (band descriptions).</source>
            <translation>来自 smdownscale:align 的精细分辨率（1 km）多波段因子堆栈，每个日期一个，文件名中的日期与对应的土壤水分栅格相同。波段按名称（波段描述）识别。</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="132" />
            <source>SMAP soil moisture</source>
            <translation>SMAP 土壤水分</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="133" />
            <source>Factor stacks</source>
            <translation>因子堆栈</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="138" />
            <source>Minimum valid fraction per coarse cell</source>
            <translation>每个粗像元的最小有效比例</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="138" />
            <source>A coarse cell is used only when at least this share of its 1 km pixels has every factor valid.</source>
            <translation>仅当某粗像元中至少有此比例的 1 km 像元所有因子均有效时，才使用该粗像元。</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="67" />
            <source>manifest.json written by smdownscale:fetchgee: its SMAP rasters and factor stacks are used instead of the two lists above.</source>
            <translation>由 smdownscale:fetchgee 写出的 manifest.json：使用其中的 SMAP 栅格和因子栈，代替上面的两个列表。</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="110" />
            <source>Give either a manifest or the lists of SMAP rasters and factor stacks, not both.</source>
            <translation>请给出清单文件，或给出 SMAP 栅格和因子栈列表，二者不能同时给出。</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="114" />
            <source>Give the SMAP soil moisture rasters and the factor stacks (one per date), or a manifest from smdownscale:fetchgee.</source>
            <translation>请给出 SMAP 土壤水分栅格和因子栈（每个日期一个），或 smdownscale:fetchgee 生成的清单文件。</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="174" />
            <source>The values are multiplied by this to give m3/m3: 0.01 for percent, 0.0001 for integers x 10000. Empty: as the model was trained (1 unless its SMAP had a scale).</source>
            <translation>数值乘以此系数得到 m3/m3：百分比为 0.01，整数 x 10000 为 0.0001。留空：按模型训练时的方式（除非其 SMAP 带有系数，否则为 1）。</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="177" />
            <source>The values are multiplied by this to give m3/m3: 1 for m3/m3, 0.01 for percent, 0.0001 for integers x 10000. Values that cannot be m3/m3 stop the run with a message.</source>
            <translation>数值乘以此系数得到 m3/m3：m3/m3 为 1，百分比为 0.01，整数 x 10000 为 0.0001。不可能是 m3/m3 的值会使运行停止并给出消息。</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="185" />
            <source>A fill value the file does not declare as nodata (e.g. -9999); such pixels are ignored. Empty: the file's own nodata value only.</source>
            <translation>文件未声明为无数据值的填充值（如 -9999）；这些像元将被忽略。留空：仅使用文件自身的无数据值。</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="203" />
            <source>scale {:g}</source>
            <translation>系数 {:g}</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="205" />
            <source>nodata {:g}</source>
            <translation>无数据值 {:g}</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="167" />
            <source>Reference scale factor to m3/m3</source>
            <translation>参考栅格换算为 m3/m3 的系数</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="167" />
            <source>SMAP scale factor to m3/m3</source>
            <translation>SMAP 换算为 m3/m3 的系数</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="168" />
            <source>Reference nodata value (if not declared in the file)</source>
            <translation>参考栅格无数据值（文件中未声明时）</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="169" />
            <source>SMAP nodata value (if not declared in the file)</source>
            <translation>SMAP 无数据值（文件中未声明时）</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="182" />
            <source>A fill value the file does not declare as nodata (e.g. -9999); such pixels are ignored. Empty: the value the model was trained with, else the file's own nodata value only.</source>
            <translation>文件未声明为无数据值的填充值（如 -9999）；这些像元将被忽略。留空：使用模型训练时的值，否则仅使用文件自身的无数据值。</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="58" />
            <source>SMAP rasters, one per date</source>
            <translation>SMAP 栅格，每个日期一个</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="62" />
            <source>Factor stacks, one per date</source>
            <translation>因子堆栈，每个日期一个</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="67" />
            <source>Or instead: fetch manifest</source>
            <translation>或改用：数据获取清单</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="62" />
            <source>or a manifest</source>
            <translation>或清单文件</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="148" />
            <source>LST day-night difference (lst_diff)</source>
            <translation>LST 昼夜温差（lst_diff）</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="149" />
            <source>TVDI from the NDVI-LST space (tvdi)</source>
            <translation>基于 NDVI-LST 特征空间的 TVDI（tvdi）</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="150" />
            <source>Antecedent precipitation index (api)</source>
            <translation>前期降水指数（api）</translation>
        </message>
        <message>
            <location filename="../processing_provider/inputs.py" line="151" />
            <source>Derived factors</source>
            <translation>派生因子</translation>
        </message>
    </context>
</TS>
